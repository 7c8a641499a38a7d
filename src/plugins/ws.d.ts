/** The small part of `ws` 8 (postgraphile's dependency; it ships no types) the websocket server uses. */
declare module "ws" {
  import type { IncomingMessage } from "node:http";
  import type { Duplex } from "node:stream";

  export class WebSocket {
    readonly protocol: string;
    readonly readyState: number;
    send(data: string, cb?: (error?: Error) => void): void;
    close(code?: number, reason?: string): void;
    terminate(): void;
    ping(): void;
    on(event: "message", listener: (data: Buffer | ArrayBuffer | Buffer[]) => void): this;
    on(event: "pong", listener: () => void): this;
    once(event: "close", listener: (code: number, reason: Buffer) => void): this;
  }

  export class WebSocketServer {
    constructor(options: { noServer: true });
    readonly clients: Set<WebSocket>;
    handleUpgrade(
      request: IncomingMessage,
      socket: Duplex,
      head: Buffer,
      callback: (ws: WebSocket) => void,
    ): void;
    close(): void;
  }
}
