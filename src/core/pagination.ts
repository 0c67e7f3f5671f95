/**
 * Cursor-paginated lists: `await client.models.list()` gives one page; `for await (const m of
 * client.models.list())` walks every item across pages.
 */
import type { operations } from '../generated/openapi';

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/**
 * What a list call takes: its operation's query in openapi.yaml without `after` (the pages follow
 * the cursor themselves); any option may be given as `undefined`, the same as left out.
 */
export type ListParams<Operation extends keyof operations> = {
  [Name in keyof ListQuery<Operation>]: ListQuery<Operation>[Name] | undefined;
};
type ListQuery<Operation extends keyof operations> = Omit<NonNullable<operations[Operation]['parameters']['query']>, 'after'>;

export class PagePromise<T> implements PromiseLike<Page<T>>, AsyncIterable<T> {
  private first: Promise<Page<T>> | undefined;

  constructor(private readonly fetchPage: (after: string | undefined) => Promise<Page<T>>) {}

  private firstPage(): Promise<Page<T>> {
    this.first ??= this.fetchPage(undefined);
    return this.first;
  }

  then<A = Page<T>, B = never>(
    onfulfilled?: ((value: Page<T>) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.firstPage().then(onfulfilled, onrejected);
  }

  /** Every item of every page, fetching pages as the loop needs them. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    let page = await this.firstPage();
    for (;;) {
      yield* page.data;
      if (!page.next_cursor) return;
      page = await this.fetchPage(page.next_cursor);
    }
  }

  /** All items as one array. */
  async toArray(): Promise<T[]> {
    const items: T[] = [];
    for await (const item of this) items.push(item);
    return items;
  }
}
