/** Readable names for the contract's schemas (generated from openapi.yaml). */
import type { components } from './generated/openapi';

type Schemas = components['schemas'];

export type LiveResponse = Schemas['LiveResponse'];
export type ReadyResponse = Schemas['ReadyResponse'];
export type ServerMetadata = Schemas['ServerMetadata'];
export type RuntimeInfo = Schemas['RuntimeInfo'];
