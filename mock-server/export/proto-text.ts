/**
 * Protocol buffer text format, the little of it config.pbtxt and models.config need. A string is
 * written as printable ASCII with every other byte of its UTF-8 as an octal escape, which every
 * text-format parser reads back byte for byte (protoc, Triton's and TF Serving's C++ parsers).
 */

export function protoTextString(value: string): string {
  let quoted = '"';
  for (const byte of new TextEncoder().encode(value)) {
    if (byte === 0x22 || byte === 0x5c) quoted += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f) quoted += String.fromCharCode(byte);
    else quoted += `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return `${quoted}"`;
}

/** A text-format message body: one field a line, nested messages indented by two spaces. */
export class ProtoTextWriter {
  private readonly lines: string[] = [];
  private depth = 0;

  field(name: string, value: string | number | boolean): this {
    const text = typeof value === 'string' ? protoTextString(value) : String(value);
    return this.line(`${name}: ${text}`);
  }

  /** A repeated number field on one line: `dims: [28, 28, 1]`. */
  list(name: string, values: readonly number[]): this {
    return this.line(`${name}: [${values.join(', ')}]`);
  }

  /** A `#` comment line, for the person who reads the file. */
  comment(text: string): this {
    return this.line(`# ${text}`);
  }

  /** An enum value: written bare, as its name. */
  enumField(name: string, value: string): this {
    return this.line(`${name}: ${value}`);
  }

  message(name: string, body: (writer: this) => void): this {
    this.line(`${name} {`);
    this.depth++;
    body(this);
    this.depth--;
    return this.line('}');
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }

  private line(text: string): this {
    this.lines.push(`${'  '.repeat(this.depth)}${text}`);
    return this;
  }
}
