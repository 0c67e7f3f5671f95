import { Transport, type ClientOptions } from './core/transport';
import { Health } from './resources/health';
import { Server } from './resources/server';

/**
 * The modelport client. One instance per server; resources hang off it:
 * `client.health.ready()`, `client.server.metadata()`.
 */
export class Modelport {
  readonly health: Health;
  readonly server: Server;
  /** The underlying transport, for calls the SDK does not wrap yet. */
  readonly transport: Transport;

  constructor(options: ClientOptions = {}) {
    this.transport = new Transport(options);
    this.health = new Health(this.transport);
    this.server = new Server(this.transport);
  }

  get baseUrl(): string {
    return this.transport.baseUrl;
  }
}
