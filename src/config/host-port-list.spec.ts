import { parseHostPortList } from './host-port-list.js';

describe('parseHostPortList', () => {
  it('reads host names, IPv4 and bracketed IPv6 addresses, ignoring spaces', () => {
    expect(parseHostPortList('10.0.0.1:7000, redis-2.internal:7001,[::1]:7002')).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-2.internal', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
  });

  it.each([
    ['10.0.0.1', '"10.0.0.1" is not host:port'],
    ['10.0.0.1:0', '"10.0.0.1:0" is not host:port'],
    ['10.0.0.1:70000', '"10.0.0.1:70000" is not host:port'],
    ['a:1,,b:2', 'it has an empty entry'],
    ['', 'it has an empty entry'],
  ])('refuses %j', (text, problem) => {
    expect(parseHostPortList(text)).toEqual({ problem });
  });

  it('never repeats an entry that may hold a password', () => {
    const result = parseHostPortList('redis://user:hunter2@10.0.0.1:7000');
    expect(result).toEqual({ problem: 'give host:port only, without a scheme, user or password' });
  });
});
