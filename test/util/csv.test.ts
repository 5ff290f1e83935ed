import { describe, expect, it } from 'vitest';
import { csvField, csvText } from '../../src/util/csv.js';

describe('RFC 4180 CSV', () => {
  it('quotes a field only when it holds a comma, a double quote or a line break, doubling its quotes', () => {
    expect(csvField('plain/000.png')).toBe('plain/000.png');
    expect(csvField(12)).toBe('12');
    expect(csvField('a,b.png')).toBe('"a,b.png"');
    expect(csvField('say "hi".png')).toBe('"say ""hi"".png"');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField('')).toBe('');
  });

  it('ends every row with CRLF', () => {
    expect(csvText([['image', 'n'], ['x,"y".png', 3]])).toBe('image,n\r\n"x,""y"".png",3\r\n');
    expect(csvText([])).toBe('');
  });
});
