import type { Transport } from './transport';

/** Base of every API resource: a view over the client's transport. */
export abstract class APIResource {
  constructor(protected readonly transport: Transport) {}
}
