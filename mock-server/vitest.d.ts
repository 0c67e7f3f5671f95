/**
 * Types `inject('modelport')` in vitest tests whose globalSetup is `@modelport/server/testing`:
 *
 *   /// <reference types="@modelport/server/vitest" />
 *
 * A declaration of its own, so that apps without vitest (Jest) never see a `vitest` augmentation.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    /** The same shape as `ProvidedModelport` of `@modelport/server/testing`. */
    modelport: { url: string; apiKey: string };
  }
}

export {};
