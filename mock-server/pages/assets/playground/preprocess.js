// A drawing → the 28×28 input an MNIST model expects, the way MNIST itself was made: the
// digit's bounding box is scaled (aspect kept, area-averaged, so edges come out grey) to fit a
// 20×20 box, then placed in the 28×28 field so that its centre of mass is at the centre.

/**
 * @param {ImageData} image the drawing: white strokes on black (the red channel is read)
 * @returns {Float32Array | null} 784 values in [0, 1], row by row; null when nothing is drawn
 */
export function toMnistInput(image, { size = 28, box = 20, threshold = 0.1 } = {}) {
  const { width, height, data } = image;
  const gray = new Float32Array(width * height);
  let minX = width,
    minY = height,
    maxX = -1,
    maxY = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const value = data[(y * width + x) * 4] / 255;
      gray[y * width + x] = value;
      if (value > threshold) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  if (maxX < 0) return null;

  // Scale the bounding box so that its longer side is `box` pixels.
  const w = maxX - minX + 1;
  const h = maxY - minY + 1;
  const scale = box / Math.max(w, h);
  const sw = Math.max(1, Math.min(box, Math.round(w * scale)));
  const sh = Math.max(1, Math.min(box, Math.round(h * scale)));
  const small = areaResample(gray, width, minX, minY, w, h, sw, sh);

  // Centre of mass of the scaled digit, then the shift that puts it at the field's centre.
  let mass = 0,
    mx = 0,
    my = 0;
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const v = small[y * sw + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const ox = clamp(Math.round(size / 2 - mx / mass), 0, size - sw);
  const oy = clamp(Math.round(size / 2 - my / mass), 0, size - sh);

  const out = new Float32Array(size * size);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) out[(y + oy) * size + (x + ox)] = Math.min(1, small[y * sw + x]);
  }
  return out;
}

/** Box-filter resampling of the w×h region at (x0, y0) to tw×th: each target pixel is the mean of the source area it covers. */
function areaResample(src, stride, x0, y0, w, h, tw, th) {
  const out = new Float32Array(tw * th);
  const fx = w / tw;
  const fy = h / th;
  for (let ty = 0; ty < th; ty++) {
    const sy0 = ty * fy,
      sy1 = sy0 + fy;
    for (let tx = 0; tx < tw; tx++) {
      const sx0 = tx * fx,
        sx1 = sx0 + fx;
      let sum = 0;
      for (let sy = Math.floor(sy0); sy < Math.min(h, Math.ceil(sy1)); sy++) {
        const wy = Math.min(sy + 1, sy1) - Math.max(sy, sy0);
        const row = (y0 + sy) * stride + x0;
        for (let sx = Math.floor(sx0); sx < Math.min(w, Math.ceil(sx1)); sx++) {
          const wx = Math.min(sx + 1, sx1) - Math.max(sx, sx0);
          sum += src[row + sx] * wx * wy;
        }
      }
      out[ty * tw + tx] = sum / (fx * fy);
    }
  }
  return out;
}
