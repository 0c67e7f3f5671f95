/**
 * The size of an encoded image read from its header, before anything is decoded: a small file can
 * declare an enormous picture (a 261 KB PNG of 16384 × 16384 pixels decodes to gigabytes), so the
 * pixels are bounded on what the header says. The formats are the ones TensorFlow's DecodeImage
 * reads: PNG, JPEG, GIF (every frame is decoded, so frames count) and BMP.
 */

export interface ImageSize {
  format: 'PNG' | 'JPEG' | 'GIF' | 'BMP';
  width: number;
  height: number;
  /** GIF frames (TensorFlow decodes them all); 1 for the other formats. */
  frames: number;
}

/** The declared size, or undefined when the bytes are none of the four formats or their header is cut short. */
export function imageSize(bytes: Uint8Array): ImageSize | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (startsWith(bytes, PNG_SIGNATURE)) return pngSize(bytes, view);
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return jpegSize(bytes, view);
  if (startsWith(bytes, GIF87) || startsWith(bytes, GIF89)) return gifSize(bytes, view);
  if (bytes[0] === 0x42 && bytes[1] === 0x4d) return bmpSize(view);
  return undefined;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const GIF87 = [...'GIF87a'].map((c) => c.charCodeAt(0));
const GIF89 = [...'GIF89a'].map((c) => c.charCodeAt(0));
const IHDR = 0x49484452;

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** The IHDR chunk comes first: width and height as big-endian 32-bit numbers. */
function pngSize(bytes: Uint8Array, view: DataView): ImageSize | undefined {
  if (bytes.length < 24 || view.getUint32(12) !== IHDR) return undefined;
  return { format: 'PNG', width: view.getUint32(16), height: view.getUint32(20), frames: 1 };
}

/** Walks the markers to the first start-of-frame (SOF0–SOF15 but DHT, JPG and DAC): height, then width. */
function jpegSize(bytes: Uint8Array, view: DataView): ImageSize | undefined {
  let at = 2;
  while (at + 9 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a length
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { format: 'JPEG', height: view.getUint16(at + 5), width: view.getUint16(at + 7), frames: 1 };
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan data or the end before any frame header
    at += 2 + view.getUint16(at + 2);
  }
  return undefined;
}

/** The logical screen, and how many image descriptors follow (TensorFlow decodes every frame at screen size). */
function gifSize(bytes: Uint8Array, view: DataView): ImageSize | undefined {
  if (bytes.length < 13) return undefined;
  const width = view.getUint16(6, true);
  const height = view.getUint16(8, true);
  const flags = bytes[10]!;
  let at = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0);
  let frames = 0;
  const skipSubBlocks = () => {
    while (at < bytes.length && bytes[at] !== 0) at += bytes[at]! + 1;
    at += 1;
  };
  while (at < bytes.length) {
    const block = bytes[at]!;
    if (block === 0x3b) break; // trailer
    if (block === 0x21) {
      at += 2; // extension introducer and label
      skipSubBlocks();
    } else if (block === 0x2c) {
      frames += 1;
      if (at + 10 > bytes.length) break;
      const local = bytes[at + 9]!;
      at += 10 + (local & 0x80 ? 3 * 2 ** ((local & 7) + 1) : 0);
      at += 1; // LZW minimum code size
      skipSubBlocks();
    } else break;
  }
  return { format: 'GIF', width, height, frames: Math.max(frames, 1) };
}

/** BITMAPINFOHEADER and later: signed 32-bit width and height (a negative height is a top-down image). */
function bmpSize(view: DataView): ImageSize | undefined {
  if (view.byteLength < 26) return undefined;
  return { format: 'BMP', width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)), frames: 1 };
}
