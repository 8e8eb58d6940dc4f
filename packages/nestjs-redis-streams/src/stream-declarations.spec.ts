import { declaredStreams, retentionRules } from './stream-declarations.js';

describe('declaredStreams', () => {
  it("adds the features' partitions and rules to the module's own", () => {
    const declared = declaredStreams(
      { partitions: { orders: 4 }, retention: [{ stream: 'orders:{0}', maxLen: 10 }] },
      [
        { stream: 'alerts', partitions: 2, deadLetters: {} },
        { stream: 'audit', retention: { maxAgeMs: 3_600_000 } },
      ],
    );
    expect(declared.partitions).toEqual({ orders: 4, alerts: 2 });
    expect(declared.retention).toEqual([
      { stream: 'orders:{0}', maxLen: 10 },
      { stream: 'alerts:{0}:dlq' },
      { stream: 'alerts:{1}:dlq' },
      { stream: 'audit', maxAgeMs: 3_600_000 },
    ]);
  });

  it('refuses a stream declared twice, by two features or by a feature and the module', () => {
    expect(() => declaredStreams({}, [{ stream: 'alerts' }, { stream: 'alerts' }])).toThrow(
      'Stream "alerts" is declared twice',
    );
    expect(() =>
      declaredStreams({ partitions: { alerts: 2 } }, [{ stream: 'alerts', partitions: 2 }]),
    ).toThrow('Stream "alerts" is declared twice');
  });

  it('checks names and partition counts', () => {
    expect(() => declaredStreams({}, [{ stream: 'alerts', partitions: 0 }])).toThrow(
      'must be an integer from 1 to 1024',
    );
    expect(() => declaredStreams({ partitions: { 'a{b}': 2 } }, [])).toThrow(/\{ or \}/);
    expect(() => declaredStreams({}, [{ stream: '' }])).toThrow();
  });
});

describe('retentionRules', () => {
  it('leaves out limits of 0, and a stream without retention is not watched', () => {
    expect(
      retentionRules({
        stream: 'alerts',
        retention: { maxLen: 0, maxAgeMs: 3_600_000 },
        deadLetters: { maxAgeMs: 0, alarmLength: 0 },
      }),
    ).toEqual([{ stream: 'alerts', maxAgeMs: 3_600_000 }, { stream: 'alerts:dlq' }]);
    expect(retentionRules({ stream: 'alerts' })).toEqual([]);
  });
});
