// The Host and Origin checks of the loopback servers: our names with our exact port, nothing else.
import { describe, expect, it } from 'vitest';
import { isLocalHost, isLocalOrigin } from '../../src/util/host-check.js';

describe('isLocalHost', () => {
  it('takes 127.0.0.1:PORT and localhost:PORT (any case), and nothing else', () => {
    for (const host of ['127.0.0.1:8081', 'localhost:8081', 'LocalHost:8081']) expect([host, isLocalHost(host, 8081)]).toEqual([host, true]);
    const refused = [undefined, '', '127.0.0.1', 'localhost', '127.0.0.1:8080', 'localhost:80811', 'evil.example:8081', '127.0.0.1.evil.example:8081', '[::1]:8081', '0.0.0.0:8081', ' localhost:8081'];
    for (const host of refused) expect([host, isLocalHost(host, 8081)]).toEqual([host, false]);
  });

  it('takes the portless name only on port 80, where browsers leave the port out', () => {
    expect([isLocalHost('localhost', 80), isLocalHost('127.0.0.1:80', 80), isLocalHost('localhost', 8080)]).toEqual([true, true, false]);
  });
});

describe('isLocalOrigin', () => {
  it('takes no Origin or our own page, and refuses other sites, other ports, https and null', () => {
    for (const origin of [undefined, 'http://127.0.0.1:9000', 'http://localhost:9000']) expect([origin, isLocalOrigin(origin, 9000)]).toEqual([origin, true]);
    for (const origin of ['null', '', 'http://evil.example', 'http://localhost:9001', 'https://localhost:9000', 'http://localhost:9000/', 'http://127.0.0.1']) {
      expect([origin, isLocalOrigin(origin, 9000)]).toEqual([origin, false]);
    }
  });
});
