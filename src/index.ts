export { Modelport, Modelport as default } from './client';
export type { ClientOptions, RequestOptions } from './core/transport';
export * from './errors';
export type * from './types';
