# PayTrust API + worker, for a PostgreSQL server given by DATABASE_URL (see docker-compose.yml).
# Secrets come from the environment at run time (an .env file, a secret store): none are baked
# into the image, and .dockerignore keeps .paytrust/ (embedded data, state.json), .env files and
# keys out of the build context.
FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=5678
COPY package.json package-lock.json ./
# The `node` devDependency is not needed in the image: it already runs Node 22.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY .gmrc ./
EXPOSE 5678
# An unprivileged OS user (uid 1000 in the node image); the files stay root-owned and read-only to it.
USER node
# Ready = the database answers and the migrations are applied (GET /readyz).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||5678)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "bin/paytrust.js", "start"]
