/** One progress line on stderr: rewritten in place on a terminal, every 5 s in a log. */

export interface Progress {
  update(text: string): void;
  done(text?: string): void;
}

export function progress(label: string): Progress {
  const tty = process.stderr.isTTY === true;
  let lastPrinted = 0;
  let last = "";
  const line = (text: string) => `  ${label.padEnd(28)} ${text}`;
  return {
    update(text) {
      last = text;
      if (tty) {
        process.stderr.write(`\r${line(text)}\x1b[K`);
      } else if (performance.now() - lastPrinted >= 5000) {
        lastPrinted = performance.now();
        process.stderr.write(`${line(text)}\n`);
      }
    },
    done(text) {
      const final = line(text ?? last);
      process.stderr.write(tty ? `\r${final}\x1b[K\n` : `${final}\n`);
    },
  };
}

/** Calls fn every second until the returned stop function is called. */
export function everySecond(fn: (elapsedS: number) => void): () => void {
  const started = performance.now();
  const timer = setInterval(() => fn((performance.now() - started) / 1000), 1000);
  return () => clearInterval(timer);
}
