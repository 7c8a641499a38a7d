# PayTrust API + worker. With DATABASE_URL pointing at PostgreSQL (see docker-compose.yml).
FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The `node` devDependency is not needed in the image: it already runs Node 22.
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY .gmrc ./
EXPOSE 5678
USER node
CMD ["node", "bin/paytrust.js", "start"]
