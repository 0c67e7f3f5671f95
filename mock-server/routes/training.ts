/** Training jobs and their Server-Sent Events. */
import type { RouteTable } from '../server/context';
import { isFinal } from '../jobs/lifecycle';
import { paginate } from '../http/pagination';
import { json } from '../http/respond';
import type { TrainingJobCreate } from '../training/protocol';
import { modelFilter } from '../auth/model-restriction';

const encoder = new TextEncoder();

export const trainingRoutes: RouteTable = {
  createTrainingJob: async ({ state, body, principal }) =>
    json(await state.training.create(body as TrainingJobCreate, principal?.keyId), 202),
  listTrainingJobs: ({ state, query, principal }) => {
    const visible = modelFilter(principal);
    const jobs = state.training.list().filter((j) => visible(j.model) && (query.status === undefined || j.status === query.status));
    return json(paginate(jobs, (j) => `${j.created_at} ${j.id}`, query, 'descending'));
  },
  getTrainingJob: ({ state, params }) => json(state.training.get(params.job_id!)),
  cancelTrainingJob: async ({ state, params }) => json(await state.training.cancel(params.job_id!)),

  trainingJobEvents: ({ state, params, request }) => {
    const id = params.job_id!;
    state.training.get(id); // 404 before the stream starts
    const after = Number(request.headers.get('last-event-id') ?? 0) || 0;
    let unsubscribe: (() => void) | undefined;
    // Once the client goes away (cancel) or the job ends, the controller must not be used again:
    // closing a cancelled stream throws, outside any request, and would take the process down.
    let done = false;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const close = () => {
          if (done) return;
          done = true;
          unsubscribe?.();
          controller.close();
        };
        unsubscribe = state.training.subscribe(id, after, (event) => {
          if (done) return;
          controller.enqueue(encoder.encode(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`));
          if (isFinal(event.type)) queueMicrotask(close);
        });
      },
      cancel() {
        done = true;
        unsubscribe?.();
      },
    });
    return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
  },
};
