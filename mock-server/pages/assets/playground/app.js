// The playground: the modelport SDK (modelport.js, the browser bundle of src/index.ts that this
// server serves) against this server. Views: models, drawing a digit (live classification and
// integrated gradients), evaluation (confusion matrix) and training (live curves).
import { AuthenticationError, Modelport } from './modelport.js';
import { drawAttributions, drawGray, h, percent, renderBars, renderConfusionMatrix, renderLineChart } from './charts.js';
import { toMnistInput } from './preprocess.js';

const KEY_STORAGE = 'modelport.apiKey';
const MNIST_SHAPE = [1, 28, 28, 1];
const IG_STEPS = 64;
const $ = (id) => document.getElementById(id);

let config = { auth: false };
/** @type {Modelport} */
let client;
/** Every model of the registry, as `client.models.list()` gives them. */
let models = [];
/** The digits model (and version, '' = default) the draw and evaluation views use. */
const choice = { model: 'digits', version: '' };

// ---------------------------------------------------------------------------------------------
// Client, API key, notices

function makeClient() {
  const apiKey = sessionStorage.getItem(KEY_STORAGE) || undefined;
  client = new Modelport({ baseUrl: location.origin, apiKey, maxRetries: 1 });
}

/**
 * Shows the key dialog until a key the server accepts is entered (resolves true), or, when this
 * tab already has a key, until it is dismissed (resolves false).
 */
function askForKey(message) {
  const dialog = $('key-dialog');
  const form = $('key-form');
  const error = $('key-error');
  error.hidden = !message;
  error.textContent = message ?? '';
  $('api-key').value = '';
  return new Promise((resolve) => {
    const onSubmit = async (event) => {
      event.preventDefault();
      const key = $('api-key').value.trim();
      if (!key) return;
      const previous = sessionStorage.getItem(KEY_STORAGE);
      sessionStorage.setItem(KEY_STORAGE, key);
      makeClient();
      $('key-submit').disabled = true;
      try {
        await client.models.list({ limit: 1 });
      } catch (problem) {
        if (previous) sessionStorage.setItem(KEY_STORAGE, previous);
        else sessionStorage.removeItem(KEY_STORAGE);
        makeClient();
        error.hidden = false;
        error.textContent =
          problem instanceof AuthenticationError ? 'The server refused this key.' : `Could not check the key: ${problem.message}`;
        return;
      } finally {
        $('key-submit').disabled = false;
      }
      done();
      dialog.close();
      resolve(true);
    };
    // Escape closes the dialog only when there is a key to go on with.
    const onCancel = (event) => {
      if (!sessionStorage.getItem(KEY_STORAGE)) event.preventDefault();
    };
    const onClose = () => {
      done();
      resolve(false);
    };
    const done = () => {
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('cancel', onCancel);
      dialog.removeEventListener('close', onClose);
    };
    form.addEventListener('submit', onSubmit);
    dialog.addEventListener('cancel', onCancel);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    $('api-key').focus();
  });
}

/** Runs an SDK call; a refused key asks for a new one and tries again. */
async function api(call) {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof AuthenticationError) || !config.auth) throw error;
    sessionStorage.removeItem(KEY_STORAGE);
    await askForKey('The server refused the key (revoked?). Enter another one.');
    return call();
  }
}

function notice(message) {
  const element = $('notice');
  element.hidden = !message;
  element.textContent = message ?? '';
}

function describe(error) {
  return error?.code
    ? `${error.message} (${error.code}${error.requestId ? `, request ${error.requestId}` : ''})`
    : String(error?.message ?? error);
}

// ---------------------------------------------------------------------------------------------
// Views

const views = { models: showModels, draw: showDraw, evaluation: showEvaluation, training: () => {} };

function route() {
  const name = location.hash.slice(1) in views ? location.hash.slice(1) : 'models';
  document.body.dataset.view = name;
  for (const section of document.querySelectorAll('section.view')) section.hidden = section.dataset.view !== name;
  for (const tab of document.querySelectorAll('.tabs a')) tab.classList.toggle('active', tab.dataset.view === name);
  Promise.resolve(views[name]()).catch((error) => notice(describe(error)));
}

// ---------------------------------------------------------------------------------------------
// Models, versions and aliases

let shownModel;

async function loadModels() {
  const all = [];
  for await (const model of client.models.list({ limit: 100 })) all.push(model);
  models = all;
  renderModelList();
  fillDigitModelSelects();
}

const isDigitModel = (model) => (model.inputs?.[0]?.shape ?? []).join() === '-1,28,28,1' && model.labels?.length === 10;

function renderModelList() {
  $('model-list').replaceChildren(
    ...models.map((model) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: model.name === shownModel ? 'selected' : '',
            dataset: { model: model.name },
            onclick: () => selectModel(model.name),
          },
          h('div', { class: 'name' }, model.name),
          h('div', { class: 'meta' }, `${model.task} · ${model.versions.length} version${model.versions.length === 1 ? '' : 's'}`),
          h(
            'div',
            {},
            h('span', { class: `chip ${model.status}` }, model.status),
            ...Object.keys(model.aliases).map((alias) => h('span', { class: 'chip alias' }, alias)),
          ),
        ),
      ),
    ),
  );
}

async function showModels() {
  if (!shownModel && models.length) await selectModel(models.find((m) => m.name === 'digits')?.name ?? models[0].name);
}

async function selectModel(name) {
  shownModel = name;
  renderModelList();
  const [model, versions, aliases] = await api(() =>
    Promise.all([client.models.get(name), client.models.versions.list(name, { limit: 100 }).toArray(), client.models.aliases.list(name)]),
  );
  if (shownModel !== name) return;
  const accuracyOf = (v) => v.metrics?.val_accuracy ?? v.metrics?.accuracy;
  const detail = $('model-detail');
  detail.dataset.model = name;
  detail.replaceChildren(
    h(
      'div',
      { class: 'detail-head' },
      h('h2', {}, model.name),
      h('span', { class: 'chip' }, model.task),
      h('span', { class: `chip ${model.status}` }, model.status),
      isDigitModel(model) ? h('button', { type: 'button', onclick: () => useDigitModel(name, 'draw') }, 'Draw with it') : null,
      isDigitModel(model) ? h('button', { type: 'button', onclick: () => useDigitModel(name, 'evaluation') }, 'Evaluate it') : null,
    ),
    model.description ? h('p', { class: 'muted' }, model.description) : null,
    h(
      'p',
      { class: 'small muted' },
      `labels: ${model.labels.length > 12 ? `${model.labels.slice(0, 12).join(', ')}, …` : model.labels.join(', ') || '—'}`,
      model.inputs?.length ? ` · input ${model.inputs.map((i) => `${i.name} ${i.datatype} [${i.shape.join(', ')}]`).join(', ')}` : '',
    ),
    h('h3', {}, 'Versions'),
    h(
      'table',
      { class: 'table', id: 'versions-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['version', 'state', 'accuracy', 'loss', 'measured on', 'parameters', 'size', 'created', 'aliases'].map((c, i) =>
            h('th', { class: [2, 3, 5, 6].includes(i) ? 'num' : '' }, c),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        ...versions.map((v) => {
          const accuracy = accuracyOf(v);
          const loss = v.metrics?.val_loss ?? v.metrics?.loss;
          return h(
            'tr',
            { dataset: { version: v.version } },
            h('td', {}, `v${v.version}`),
            h('td', {}, h('span', { class: `chip ${v.state}` }, v.state)),
            h(
              'td',
              { class: 'num' },
              accuracy === undefined ? '—' : percent(accuracy, 2),
              accuracy === undefined ? null : h('span', { class: 'metric-bar', style: `width:${Math.round(accuracy * 60)}px` }),
            ),
            h('td', { class: 'num' }, loss === undefined ? '—' : Number(loss).toFixed(4)),
            h(
              'td',
              {},
              v.metrics?.dataset
                ? `${v.metrics.dataset}${v.metrics.val_accuracy !== undefined ? ' (validation split)' : v.metrics.samples ? ` (${v.metrics.samples})` : ''}`
                : '—',
            ),
            h('td', { class: 'num' }, v.params?.toLocaleString('en') ?? '—'),
            h('td', { class: 'num' }, formatBytes(v.size_bytes)),
            h('td', {}, new Date(v.created_at).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })),
            h('td', {}, ...v.aliases.map((alias) => h('span', { class: 'chip alias' }, alias))),
          );
        }),
      ),
    ),
    h('h3', {}, 'Aliases'),
    aliases.data.length
      ? h(
          'table',
          { class: 'table', id: 'aliases-table' },
          h('thead', {}, h('tr', {}, h('th', {}, 'alias'), h('th', {}, 'serves'))),
          h(
            'tbody',
            {},
            ...aliases.data.map((alias) =>
              h(
                'tr',
                {},
                h('td', {}, h('span', { class: 'chip alias' }, alias.name)),
                h('td', {}, alias.targets.map((t) => `v${t.version} · ${t.weight ?? 100} %`).join('   ')),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted small' }, 'No aliases: requests without a version go to the newest ready version.'),
  );
}

function formatBytes(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}

// ---------------------------------------------------------------------------------------------
// The digits model the draw and evaluation views use

function fillDigitModelSelects() {
  const digitModels = models.filter(isDigitModel);
  if (!digitModels.some((m) => m.name === choice.model) && digitModels.length) choice.model = digitModels[0].name;
  for (const select of document.querySelectorAll('select.digit-model')) {
    select.replaceChildren(...digitModels.map((m) => h('option', { value: m.name }, m.name)));
    select.value = choice.model;
  }
  fillVersionSelects();
}

function fillVersionSelects() {
  const model = models.find((m) => m.name === choice.model);
  for (const id of ['draw-version', 'eval-version']) {
    const select = $(id);
    select.replaceChildren(
      h('option', { value: '' }, 'default'),
      ...(model?.versions ?? []).map((v) => h('option', { value: String(v) }, `v${v}`)),
    );
    select.value = model?.versions.includes(Number(choice.version)) ? choice.version : '';
  }
  if (!model?.versions.includes(Number(choice.version))) choice.version = '';
}

function onChoiceChange(changed) {
  if (changed.model !== undefined && changed.model !== choice.model) {
    choice.model = changed.model;
    choice.version = '';
  }
  if (changed.version !== undefined) choice.version = changed.version;
  for (const select of document.querySelectorAll('select.digit-model')) select.value = choice.model;
  fillVersionSelects();
  if (hasDrawing()) requestAnalysis(true);
  if (document.body.dataset.view === 'evaluation') showEvaluation();
}

function useDigitModel(name, view) {
  onChoiceChange({ model: name });
  location.hash = `#${view}`;
}

const versionOption = () => (choice.version ? { version: Number(choice.version) } : {});

// ---------------------------------------------------------------------------------------------
// Draw a digit: live classification and integrated gradients

const pad = $('pad');
const padContext = pad.getContext('2d', { willReadFrequently: true });
let revision = 0;
let drawing = false;
let last;
let wanted;
let analysing = false;
let lastLiveRun = 0;

function clearPad() {
  padContext.fillStyle = '#000';
  padContext.fillRect(0, 0, pad.width, pad.height);
  revision++;
  wanted = undefined;
  const result = $('draw-result');
  result.dataset.status = 'empty';
  result.dataset.label = '';
  $('prediction').textContent = '–';
  $('prediction-detail').textContent = 'nothing drawn yet';
  $('top3').replaceChildren();
  for (const id of ['seen', 'heatmap']) {
    const canvas = $(id);
    const context = canvas.getContext('2d');
    context.fillStyle = '#000';
    context.fillRect(0, 0, canvas.width, canvas.height);
  }
  $('explain-detail').textContent = 'Which pixels pushed the predicted class up (warm) or down (blue).';
}

function hasDrawing() {
  return $('draw-result').dataset.status !== 'empty';
}

function pointerAt(event) {
  const rect = pad.getBoundingClientRect();
  return { x: ((event.clientX - rect.left) * pad.width) / rect.width, y: ((event.clientY - rect.top) * pad.height) / rect.height };
}

function strokeTo(point) {
  padContext.strokeStyle = '#fff';
  padContext.fillStyle = '#fff';
  padContext.lineWidth = 22;
  padContext.lineCap = 'round';
  padContext.lineJoin = 'round';
  if (!last) {
    padContext.beginPath();
    padContext.arc(point.x, point.y, padContext.lineWidth / 2, 0, Math.PI * 2);
    padContext.fill();
  } else {
    padContext.beginPath();
    padContext.moveTo(last.x, last.y);
    padContext.lineTo(point.x, point.y);
    padContext.stroke();
  }
  last = point;
  revision++;
  $('draw-result').dataset.status = 'pending';
}

function setUpDrawing() {
  clearPad();
  pad.addEventListener('pointerdown', (event) => {
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    drawing = true;
    last = undefined;
    strokeTo(pointerAt(event));
    requestAnalysis(false);
  });
  pad.addEventListener('pointermove', (event) => {
    if (!drawing) return;
    for (const e of event.getCoalescedEvents?.() ?? [event]) strokeTo(pointerAt(e));
    requestAnalysis(false);
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    last = undefined;
    requestAnalysis(true);
  };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
  $('clear').addEventListener('click', clearPad);
  $('draw-model').addEventListener('change', (e) => onChoiceChange({ model: e.target.value }));
  $('draw-version').addEventListener('change', (e) => onChoiceChange({ version: e.target.value }));
}

/** Live predictions while drawing; prediction and explanation when a stroke ends. One at a time. */
function requestAnalysis(explain) {
  wanted = { explain: explain || Boolean(wanted?.explain) };
  if (!analysing) void pump();
}

async function pump() {
  analysing = true;
  try {
    while (wanted) {
      if (!wanted.explain) {
        // Live updates while drawing: at most about ten a second.
        const wait = lastLiveRun + 100 - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!wanted) break;
      }
      const job = wanted;
      wanted = undefined;
      lastLiveRun = performance.now();
      await analyse(job.explain);
    }
  } finally {
    analysing = false;
  }
}

async function analyse(explain) {
  const at = revision;
  const pixels = toMnistInput(padContext.getImageData(0, 0, pad.width, pad.height));
  const result = $('draw-result');
  if (!pixels) return;
  drawGray($('seen'), pixels);
  const { model } = choice;
  try {
    const prediction = await api(() =>
      client.predict(model, { data: pixels, shape: MNIST_SHAPE }, { topK: 3, binary: true, ...versionOption() }),
    );
    if (result.dataset.status === 'empty') return; // cleared meanwhile
    const [best] = prediction.classes[0];
    $('prediction').textContent = best.label;
    $('prediction-detail').textContent = `${prediction.model} v${prediction.version} · ${percent(best.score)} sure`;
    renderBars($('top3'), prediction.classes[0]);
    if (!explain) return;

    const explanation = await api(() =>
      client.models.explain(
        model,
        { data: pixels, shape: MNIST_SHAPE },
        { methods: ['integrated_gradients'], steps: IG_STEPS, target: best.index, ...versionOption() },
      ),
    );
    if (result.dataset.status === 'empty') return;
    const attributions = explanation.attributions.integrated_gradients.data;
    drawAttributions($('heatmap'), pixels, attributions);
    const { sum, score_difference: difference } = explanation.completeness ?? {};
    $('explain-detail').textContent =
      `Attributions for “${explanation.target.label}” (${percent(explanation.target.score)}), ${IG_STEPS} steps from a black image. ` +
      (sum === undefined ? '' : `They add up to ${sum.toFixed(3)}; the score rose by ${difference.toFixed(3)}.`);
    if (at === revision && !wanted) {
      result.dataset.label = best.label;
      result.dataset.status = 'done';
    }
  } catch (error) {
    result.dataset.status = 'error';
    notice(`Classifying the drawing failed: ${describe(error)}`);
  }
}

function showDraw() {}

// ---------------------------------------------------------------------------------------------
// Evaluation on mnist-holdout

let shownEvaluation; // `${model}@${version}` of the result on screen
let evaluating = false;

function setUpEvaluation() {
  $('eval-model').addEventListener('change', (e) => onChoiceChange({ model: e.target.value }));
  $('eval-version').addEventListener('change', (e) => onChoiceChange({ version: e.target.value }));
  $('run-evaluation').addEventListener('click', () =>
    runEvaluation()
      .catch((error) => {
        $('eval-status').textContent = '';
        notice(`Evaluation failed: ${describe(error)}`);
      })
      .finally(() => {
        evaluating = false;
        $('run-evaluation').disabled = false;
        $('eval-progress').hidden = true;
      }),
  );
}

/** Shows the newest evaluation of the chosen model on mnist-holdout, if there is one. */
async function showEvaluation() {
  const key = `${choice.model}@${choice.version}`;
  if (evaluating || shownEvaluation === key) return;
  const page = await api(() => client.evaluations.list({ model: choice.model, dataset: 'mnist-holdout', status: 'succeeded', limit: 20 }));
  const version = choice.version ? Number(choice.version) : undefined;
  const latest = page.data.find((e) => version === undefined || e.results[0]?.version === version);
  shownEvaluation = key;
  if (latest) renderEvaluation(latest, 'latest stored evaluation');
  else {
    $('eval-result').dataset.status = 'none';
    $('eval-cards').replaceChildren();
    $('per-class').replaceChildren();
    $('confusion').replaceChildren('No evaluation of this model on mnist-holdout yet: run one.');
    $('eval-status').textContent = '';
  }
}

async function runEvaluation() {
  evaluating = true;
  notice();
  $('run-evaluation').disabled = true;
  const progress = $('eval-progress');
  progress.hidden = false;
  progress.value = 0;
  $('eval-result').dataset.status = 'running';
  $('eval-status').textContent = `evaluating ${choice.model} on 2,000 held-out digits…`;
  const job = await api(() =>
    client.evaluations.create({ dataset: 'mnist-holdout', models: [{ model: choice.model, ...versionOption() }], latency_samples: 50 }),
  );
  const evaluation = await job.wait({ pollInterval: 150, maxPollInterval: 500, onProgress: (e) => (progress.value = e.progress) });
  shownEvaluation = `${choice.model}@${choice.version}`;
  renderEvaluation(evaluation, 'just now');
}

function renderEvaluation(evaluation, when) {
  const r = evaluation.results[0];
  const card = (label, value) => h('div', { class: 'card' }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));
  $('eval-cards').replaceChildren(
    card('accuracy', percent(r.accuracy, 2)),
    card('correct', `${r.correct.toLocaleString('en')} / ${r.samples.toLocaleString('en')}`),
    card('loss (cross-entropy)', r.loss.toFixed(4)),
    card('macro F1', r.macro.f1.toFixed(4)),
    card(
      'latency p50 / p95',
      r.latency_ms.per_sample ? `${r.latency_ms.per_sample.p50.toFixed(2)} / ${r.latency_ms.per_sample.p95.toFixed(2)} ms` : '—',
    ),
    card('size', formatBytes(r.size_bytes)),
  );
  const bar = (v) => h('span', { class: 'metric-bar', style: `width:${Math.round(v * 50)}px` });
  $('per-class').replaceChildren(
    h('thead', {}, h('tr', {}, ...['class', 'support', 'precision', 'recall', 'F1'].map((c, i) => h('th', { class: i ? 'num' : '' }, c)))),
    h(
      'tbody',
      {},
      ...r.per_class.map((c) =>
        h(
          'tr',
          {},
          h('td', {}, c.label),
          h('td', { class: 'num' }, c.support),
          h('td', { class: 'num' }, c.precision.toFixed(3)),
          h('td', { class: 'num' }, c.recall.toFixed(3)),
          h('td', { class: 'num' }, c.f1.toFixed(3), bar(c.f1)),
        ),
      ),
    ),
  );
  renderConfusionMatrix($('confusion'), r.confusion_matrix);
  $('eval-status').textContent = `${when}: ${r.model} v${r.version} on ${r.dataset}, ${evaluation.id}`;
  $('eval-result').dataset.status = 'done';
  $('eval-result').dataset.accuracy = String(r.accuracy);
}

// ---------------------------------------------------------------------------------------------
// Training: a small MLP, with curves drawn from the job's event stream

const DATASETS = {
  'mnist-train': {
    task: 'image-classification',
    labels: [...'0123456789'],
    input: { name: 'image', shape: [28, 28, 1] },
    flatten: true,
    batch_size: 64,
    validation_split: 0.1,
    model: 'playground-mlp',
  },
  'iris-train': {
    task: 'tabular-classification',
    labels: ['setosa', 'versicolor', 'virginica'],
    input: { name: 'features', shape: [4] },
    flatten: false,
    batch_size: 16,
    validation_split: 0.2,
    model: 'playground-iris',
  },
};
let runningJob;

function setUpTraining() {
  $('train-dataset').addEventListener('change', (e) => {
    const input = $('train-model');
    if (Object.values(DATASETS).some((d) => d.model === input.value)) input.value = DATASETS[e.target.value].model;
  });
  $('train-form').addEventListener('submit', (event) => {
    event.preventDefault();
    train()
      .catch((error) => {
        setTrainStatus('failed', `Training failed: ${describe(error)}`);
      })
      .finally(() => {
        runningJob = undefined;
        $('start-training').disabled = false;
        $('cancel-training').hidden = true;
      });
  });
  $('cancel-training').addEventListener('click', () => {
    if (runningJob) api(() => client.trainingJobs.cancel(runningJob.id)).catch((error) => notice(describe(error)));
  });
  drawCurves([], Number($('train-epochs').value));
}

function setTrainStatus(status, text) {
  const element = $('train-status');
  element.dataset.status = status;
  element.textContent = text;
}

async function train() {
  notice();
  const dataset = $('train-dataset').value;
  const spec = DATASETS[dataset];
  const epochs = Number($('train-epochs').value);
  const units = Number($('train-units').value);
  const params = {
    model: $('train-model').value.trim(),
    task: spec.task,
    labels: spec.labels,
    dataset,
    architecture: {
      input: spec.input,
      layers: [
        ...(spec.flatten ? [{ type: 'flatten' }] : []),
        { type: 'dense', units, activation: 'relu' },
        { type: 'dense', units: spec.labels.length, activation: 'softmax' },
      ],
    },
    epochs,
    batch_size: spec.batch_size,
    validation_split: spec.validation_split,
    metrics: ['accuracy'],
    optimizer: { name: 'adam', learning_rate: Number($('train-lr').value) },
  };
  $('start-training').disabled = true;
  $('train-events').replaceChildren();
  const points = [];
  drawCurves(points, epochs);
  const job = await api(() => client.trainingJobs.create(params));
  runningJob = job;
  $('cancel-training').hidden = false;
  setTrainStatus('queued', `job ${job.id}: ${job.status}`);
  const log = (time, what, values) => {
    const cells = values ? [h('td', {}, what), ...values.map((v) => h('td', { class: 'num' }, v))] : [h('td', { colspan: 4 }, what)];
    $('train-events').append(h('tr', {}, h('td', {}, time), ...cells));
    const scroller = $('train-events-scroll');
    scroller.scrollTop = scroller.scrollHeight;
  };
  for await (const event of job.events()) {
    const time = new Date(event.at).toLocaleTimeString('en-GB');
    if (event.type === 'epoch') {
      points.push(event);
      drawCurves(points, event.epochs ?? epochs);
      const fixed = (v) => (v === undefined ? '—' : v.toFixed(3));
      log(time, `epoch ${event.epoch}/${event.epochs}`, [
        fixed(event.loss),
        fixed(event.val_loss),
        event.val_accuracy === undefined ? '—' : percent(event.val_accuracy),
      ]);
      setTrainStatus(
        'running',
        `job ${job.id}: epoch ${event.epoch} of ${event.epochs}` +
          (event.eta_seconds ? `, about ${Math.ceil(event.eta_seconds)} s to go` : ''),
      );
    } else {
      log(time, `${event.type}${event.version ? `: ${params.model} v${event.version}` : ''}${event.error ? `: ${event.error}` : ''}`);
      if (event.type === 'queued' || event.type === 'started')
        setTrainStatus(event.type === 'started' ? 'running' : 'queued', `job ${job.id}: ${event.type}`);
      else if (event.type === 'succeeded') {
        const final = points.at(-1);
        setTrainStatus(
          'succeeded',
          `job ${job.id} succeeded: registered ${params.model} v${event.version}` +
            (final?.val_accuracy !== undefined ? ` (validation accuracy ${percent(final.val_accuracy)})` : ''),
        );
      } else setTrainStatus(event.type, `job ${job.id} ${event.type}${event.error ? `: ${event.error}` : ''}`);
    }
  }
  await loadModels();
}

function drawCurves(points, epochs) {
  const series = (key) => points.map((p) => [p.epoch, p[key]]);
  renderLineChart($('loss-chart'), {
    title: 'Loss (cross-entropy)',
    xMax: epochs,
    series: [
      { name: 'loss', color: '#2563eb', points: series('loss') },
      { name: 'val_loss', color: '#f97316', points: series('val_loss'), dashed: true },
    ],
  });
  renderLineChart($('accuracy-chart'), {
    title: 'Accuracy',
    xMax: epochs,
    yMax: 1,
    format: (v) => `${Math.round(v * 100)} %`,
    series: [
      { name: 'accuracy', color: '#2563eb', points: series('accuracy') },
      { name: 'val_accuracy', color: '#16a34a', points: series('val_accuracy'), dashed: true },
    ],
  });
  $('train-status').dataset.epochs = String(points.length);
}

// ---------------------------------------------------------------------------------------------

async function boot() {
  config = await fetch('./config.json').then((response) => response.json());
  if (config.auth) {
    $('change-key').hidden = false;
    $('change-key').addEventListener('click', async () => {
      if (await askForKey()) await api(loadModels).catch((error) => notice(describe(error)));
    });
    if (!sessionStorage.getItem(KEY_STORAGE)) await askForKey();
  }
  makeClient();
  setUpDrawing();
  setUpEvaluation();
  setUpTraining();
  try {
    const metadata = await client.server.metadata();
    $('server-info').textContent =
      `${metadata.name} ${metadata.version} · ${metadata.runtime?.backend ?? 'unknown'} backend · auth ${config.auth ? 'on' : 'off'}`;
    await api(loadModels);
  } catch (error) {
    notice(`Cannot reach the server's API: ${describe(error)}`);
  }
  window.addEventListener('hashchange', route);
  route();
  document.body.dataset.ready = 'true';
}

boot();
