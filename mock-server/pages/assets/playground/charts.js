// Small hand-made charts: bars (HTML), line charts and a matrix heat map (SVG), and image heat
// maps (canvas). No library.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes (and text). */
export function svg(name, attributes = {}, text) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** An HTML element with attributes, class and children. */
export function h(name, attributes = {}, ...children) {
  const element = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'class') element.className = value;
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key === 'style') element.style.cssText = value;
    else if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null && child !== false) element.append(child);
  return element;
}

export const percent = (value, digits = 1) => {
  const smallest = 10 ** -digits;
  return value > 0 && value * 100 < smallest ? `<${smallest} %` : `${(value * 100).toFixed(digits)} %`;
};

/** Horizontal bars, best first: [{ label, score }] with scores in [0, 1]. */
export function renderBars(container, rows) {
  container.replaceChildren(
    ...rows.map(({ label, score }, i) =>
      h(
        'div',
        { class: `bar-row${i === 0 ? ' best' : ''}`, dataset: { label } },
        h('span', { class: 'bar-label' }, label),
        h('span', { class: 'bar-track' }, h('span', { class: 'bar-fill', style: `width:${Math.max(0.5, score * 100).toFixed(2)}%` })),
        h('span', { class: 'bar-value' }, percent(score)),
      ),
    ),
  );
}

/**
 * A line chart over epochs 1..xMax, in SVG: series [{ name, color, points: [[x, y], ...], dashed }].
 * `yMax` fixes the scale (accuracy: 1); otherwise it follows the data.
 */
export function renderLineChart(container, { title, xMax, yMin = 0, yMax, series, format = (v) => v.toFixed(2) }) {
  const width = 460,
    height = 250;
  const margin = { top: 30, right: 16, bottom: 34, left: 48 };
  const innerW = width - margin.left - margin.right;
  const innerH = height - margin.top - margin.bottom;
  const values = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const top = yMax ?? niceCeil(Math.max(0.1, ...values) * 1.05);
  const x = (v) => margin.left + (xMax <= 1 ? innerW / 2 : ((v - 1) / (xMax - 1)) * innerW);
  const y = (v) => margin.top + innerH - ((v - yMin) / (top - yMin)) * innerH;

  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'line-chart', role: 'img', 'aria-label': title });
  root.append(svg('text', { x: margin.left, y: 18, class: 'chart-title' }, title));
  for (let i = 0; i <= 4; i++) {
    const v = yMin + ((top - yMin) * i) / 4;
    root.append(svg('line', { x1: margin.left, x2: width - margin.right, y1: y(v), y2: y(v), class: 'grid' }));
    root.append(svg('text', { x: margin.left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, format(v)));
  }
  const step = Math.max(1, Math.ceil(xMax / 10));
  for (let e = 1; e <= xMax; e += step)
    root.append(svg('text', { x: x(e), y: height - margin.bottom + 16, class: 'tick', 'text-anchor': 'middle' }, e));
  root.append(svg('text', { x: margin.left + innerW / 2, y: height - 4, class: 'axis-label', 'text-anchor': 'middle' }, 'epoch'));

  let legendX = width - margin.right;
  for (const s of [...series].reverse()) {
    const label = svg('text', { x: legendX, y: 18, class: 'legend', 'text-anchor': 'end' }, s.name);
    root.append(label);
    legendX -= s.name.length * 6.6 + 8;
    root.append(
      svg('line', {
        x1: legendX - 14,
        x2: legendX,
        y1: 14,
        y2: 14,
        stroke: s.color,
        'stroke-width': 3,
        ...(s.dashed ? { 'stroke-dasharray': '5 3' } : {}),
      }),
    );
    legendX -= 26;
  }
  for (const s of series) {
    const points = s.points.filter((p) => Number.isFinite(p[1]));
    if (!points.length) continue;
    root.append(
      svg('polyline', {
        points: points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' '),
        fill: 'none',
        stroke: s.color,
        'stroke-width': 2.5,
        'stroke-linejoin': 'round',
        ...(s.dashed ? { 'stroke-dasharray': '6 4' } : {}),
        class: 'series',
        'data-series': s.name,
        'data-points': points.length,
      }),
    );
    for (const [px, py] of points) root.append(svg('circle', { cx: x(px), cy: y(py), r: 3.5, fill: s.color }));
  }
  container.replaceChildren(root);
}

function niceCeil(value) {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  // Tops that divide into four round ticks.
  for (const m of [1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10]) if (m * magnitude >= value) return m * magnitude;
  return 10 * magnitude;
}

/**
 * A confusion matrix as an SVG heat map: rows are true classes, columns predicted. Colour is the
 * share of the row (square-rooted, so that a handful of mistakes still shows); numbers are counts.
 */
export function renderConfusionMatrix(container, { labels, matrix }) {
  const n = labels.length;
  const cell = Math.max(22, Math.min(40, Math.floor(420 / n)));
  const left = 56,
    top = 52;
  const width = left + n * cell + 8,
    height = top + n * cell + 8;
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    class: 'confusion',
    role: 'img',
    'aria-label': 'confusion matrix',
  });
  root.append(svg('text', { x: left + (n * cell) / 2, y: 14, class: 'axis-label', 'text-anchor': 'middle' }, 'predicted class'));
  root.append(
    svg(
      'text',
      { x: 14, y: top + (n * cell) / 2, class: 'axis-label', 'text-anchor': 'middle', transform: `rotate(-90 14 ${top + (n * cell) / 2})` },
      'true class',
    ),
  );
  labels.forEach((label, i) => {
    root.append(svg('text', { x: left + i * cell + cell / 2, y: top - 8, class: 'tick', 'text-anchor': 'middle' }, short(label)));
    root.append(svg('text', { x: left - 8, y: top + i * cell + cell / 2 + 4, class: 'tick', 'text-anchor': 'end' }, short(label)));
  });
  matrix.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((count, p) => {
      const share = Math.sqrt(count / total);
      const diagonal = t === p;
      const fill =
        count === 0
          ? '#f8fafc'
          : diagonal
            ? mix([224, 242, 254], [3, 105, 161], share)
            : mix([254, 242, 242], [185, 28, 28], Math.min(1, share * 1.6));
      const g = svg('g', { class: 'cell', 'data-true': labels[t], 'data-predicted': labels[p], 'data-count': count });
      g.append(svg('rect', { x: left + p * cell, y: top + t * cell, width: cell - 1, height: cell - 1, rx: 3, fill }));
      g.append(svg('title', {}, `true ${labels[t]}, predicted ${labels[p]}: ${count} (${percent(count / total)})`));
      if (count > 0) {
        const dark = diagonal ? share > 0.55 : share * 1.6 > 0.6;
        g.append(
          svg(
            'text',
            {
              x: left + p * cell + cell / 2,
              y: top + t * cell + cell / 2 + 4,
              'text-anchor': 'middle',
              class: `count${dark ? ' light' : ''}`,
            },
            count,
          ),
        );
      }
      root.append(g);
    });
  });
  container.replaceChildren(root);
}

const short = (label) => (label.length > 6 ? `${label.slice(0, 5)}…` : label);

function mix(from, to, t) {
  const c = from.map((f, i) => Math.round(f + (to[i] - f) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** A size×size grey image (values in [0, 1]) drawn onto a canvas, one block per pixel. */
export function drawGray(canvas, values, size = 28) {
  const image = new ImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const v = Math.round(Math.min(1, Math.max(0, values[i])) * 255);
    image.data.set([v, v, v, 255], i * 4);
  }
  blit(canvas, image);
}

/**
 * Attributions over the input: the digit in dim grey, positive attribution (evidence for the
 * class) in warm colours, negative in blue, scaled to the 99th percentile of |attribution|.
 * Returns that scale.
 */
export function drawAttributions(canvas, input, attributions, size = 28) {
  const magnitudes = Array.from(attributions, Math.abs).sort((a, b) => a - b);
  const scale = magnitudes[Math.floor(magnitudes.length * 0.99)] || magnitudes.at(-1) || 1;
  const image = new ImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const base = 18 + input[i] * 70;
    const a = Math.max(-1, Math.min(1, attributions[i] / scale));
    const color = a >= 0 ? [255, 140 - 100 * a, 30] : [50, 130, 255];
    const alpha = Math.min(1, Math.abs(a) * 1.2);
    image.data.set([0, 1, 2].map((c) => Math.round(base * (1 - alpha) + color[c] * alpha)).concat(255), i * 4);
  }
  blit(canvas, image);
  return scale;
}

function blit(canvas, image) {
  const scratch = document.createElement('canvas');
  scratch.width = image.width;
  scratch.height = image.height;
  scratch.getContext('2d').putImageData(image, 0, 0);
  const context = canvas.getContext('2d');
  context.imageSmoothingEnabled = false;
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.drawImage(scratch, 0, 0, canvas.width, canvas.height);
}
