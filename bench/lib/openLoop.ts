/**
 * Open-loop sender: each request leaves at its scheduled time whether or not
 * earlier ones were answered, the way gateways deliver webhooks. (autocannon's
 * rate mode is closed-loop per connection, and it builds requests ahead that
 * it may never send, so it could neither keep a fixed rate under a slow server
 * nor send every prepared webhook exactly once.)
 */
import { Agent, request } from "node:http";
import { everySecond, progress } from "./progress.ts";
import { LatencyRecorder } from "./stats.ts";

export interface ScheduledRequest {
  /** Where to send it, when not the sender's base URL (--instances: round robin). */
  baseUrl?: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Answer {
  status: number;
  body: string;
  latencyMs: number;
}

function send(agent: Agent, baseUrl: string, item: ScheduledRequest): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      `${baseUrl}${item.path}`,
      {
        method: "POST",
        agent,
        headers: { ...item.headers, "content-length": Buffer.byteLength(item.body) },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            latencyMs: performance.now() - started,
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (error) =>
      resolve({ status: 0, body: error.message, latencyMs: performance.now() - started }),
    );
    req.end(item.body);
  });
}

/** Sends items[k] at start + k / rate seconds; resolves with every answer, in item order. */
export async function sendAtRate(
  baseUrl: string,
  items: ScheduledRequest[],
  rate: number,
  label: string,
): Promise<{ answers: Answer[]; recorder: LatencyRecorder; durationS: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const recorder = new LatencyRecorder();
  const line = progress(label);
  const pending: Array<Promise<Answer>> = [];
  const durationS = items.length / rate;
  const stopTicking = everySecond((elapsed) =>
    line.update(`${Math.round(elapsed)}/${Math.ceil(durationS)} s  ${pending.length} sent`),
  );
  const started = performance.now();
  try {
    for (let k = 0; k < items.length; k++) {
      const due = started + (k / rate) * 1000;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const answer = send(agent, items[k].baseUrl ?? baseUrl, items[k]).then((a) => {
        recorder.record(a.latencyMs);
        return a;
      });
      pending.push(answer);
    }
    const answers = await Promise.all(pending);
    const elapsed = (performance.now() - started) / 1000;
    line.done(`${items.length} sent in ${elapsed.toFixed(1)} s`);
    return { answers, recorder, durationS: Math.round(elapsed * 100) / 100 };
  } finally {
    stopTicking();
    agent.destroy();
  }
}
