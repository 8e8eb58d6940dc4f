import type { Delivery } from './own-pending.js';
import { Capacity } from './capacity.js';

const delivery = (id: string): Delivery => ({
  entry: { id, fields: [] },
  attempt: 1,
  tracked: false,
});

/** Whether `promise` has settled once pending callbacks and timers of this turn have run. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('Capacity', () => {
  describe('counting', () => {
    it('starts with every slot free and room for concurrency plus prefetch', () => {
      const capacity = new Capacity(4, 2);
      expect(capacity.available()).toBe(4);
      expect(capacity.room()).toBe(6);
    });

    it('counts started entries against slots, and starts an entry only once', () => {
      const capacity = new Capacity(4, 2);
      expect(capacity.start('1-0')).toBe(true);
      expect(capacity.start('1-0')).toBe(false);
      expect(capacity.start('2-0')).toBe(true);
      expect(capacity.available()).toBe(2);
      expect(capacity.room()).toBe(4);
      capacity.finish('1-0');
      expect(capacity.available()).toBe(3);
      expect(capacity.start('1-0')).toBe(true);
    });

    it('counts held entries against room but not against slots', () => {
      const capacity = new Capacity(4, 2);
      capacity.held.push(delivery('1-0'), delivery('2-0'), delivery('3-0'));
      expect(capacity.available()).toBe(4);
      expect(capacity.room()).toBe(3);
    });

    it('counts requested entries against room until the read settles, either way', async () => {
      const capacity = new Capacity(4, 2);
      let answer!: (value: string) => void;
      const reply = capacity.request(5, new Promise<string>((resolve) => (answer = resolve)));
      expect(capacity.room()).toBe(1);
      expect(capacity.available()).toBe(4);
      answer('entries');
      await expect(reply).resolves.toBe('entries');
      expect(capacity.room()).toBe(6);

      const failed = capacity.request(3, Promise.reject(new Error('read failed')));
      expect(capacity.room()).toBe(3);
      await expect(failed).rejects.toThrow('read failed');
      expect(capacity.room()).toBe(6);
    });

    it('reserves slots while old work is taken, and frees the unused ones after', async () => {
      const capacity = new Capacity(4, 0);
      let during = { available: -1, room: -1 };
      await capacity.withReserved(3, async (free) => {
        expect(free).toBe(3);
        capacity.start('1-0');
        during = { available: capacity.available(), room: capacity.room() };
      });
      // 4 slots - 1 started - 3 reserved; the reservation ends with `take`, the started entry stays.
      expect(during).toEqual({ available: 0, room: 0 });
      expect(capacity.available()).toBe(3);
    });

    it('frees the reservation also when taking fails', async () => {
      const capacity = new Capacity(2, 0);
      await expect(
        capacity.withReserved(2, () => Promise.reject(new Error('claim failed'))),
      ).rejects.toThrow('claim failed');
      expect(capacity.available()).toBe(2);
    });

    it('reserves nothing and does not call take for no slots', async () => {
      const capacity = new Capacity(2, 0);
      let called = false;
      await capacity.withReserved(0, async () => {
        called = true;
      });
      expect(called).toBe(false);
    });

    it('frees the slot of a handler that finished while its acknowledgement goes out', () => {
      const capacity = new Capacity(2, 0);
      capacity.start('1-0');
      capacity.start('2-0');
      expect(capacity.available()).toBe(0);
      capacity.handlerDone();
      expect(capacity.available()).toBe(1);
      // Still owned until the acknowledgement is settled.
      expect(capacity.owned.has('1-0')).toBe(true);
      capacity.ackDone();
      capacity.finish('1-0');
      expect(capacity.available()).toBe(1);
      expect(capacity.owned.has('1-0')).toBe(false);
    });

    it('frees at most one batch of concurrency slots for entries waiting for their acknowledgement', () => {
      const capacity = new Capacity(2, 0);
      for (const id of ['1-0', '2-0', '3-0', '4-0']) {
        capacity.start(id);
        capacity.handlerDone();
      }
      // 4 owned and acking: only 2 of them give their slot back, so nothing more may start.
      expect(capacity.available()).toBe(0);
      expect(capacity.room()).toBe(0);
    });

    it('has room for `minimum` entries, or for fewer while nothing runs', () => {
      const capacity = new Capacity(4, 0);
      expect(capacity.hasRoom(4)).toBe(true);
      // Nothing runs: a smaller read is better than none.
      expect(capacity.hasRoom(10)).toBe(true);
      capacity.start('1-0');
      expect(capacity.hasRoom(3)).toBe(true);
      expect(capacity.hasRoom(4)).toBe(false);
      capacity.start('2-0');
      capacity.start('3-0');
      capacity.start('4-0');
      expect(capacity.hasRoom(1)).toBe(false);
    });

    it('has no room while nothing runs but everything is held or requested', () => {
      const capacity = new Capacity(1, 1);
      capacity.held.push(delivery('1-0'), delivery('2-0'));
      expect(capacity.room()).toBe(0);
      expect(capacity.hasRoom(1)).toBe(false);
    });
  });

  describe('waiting', () => {
    it('waitForRoom resolves at once when there is room', async () => {
      const capacity = new Capacity(2, 0);
      expect(await isSettled(capacity.waitForRoom(2, () => false))).toBe(true);
    });

    it('waitForRoom wakes when a finished entry frees enough room, not before', async () => {
      const capacity = new Capacity(2, 0);
      capacity.start('1-0');
      capacity.start('2-0');
      const waiting = capacity.waitForRoom(2, () => false);
      expect(await isSettled(waiting)).toBe(false);
      capacity.finish('1-0');
      // One slot is not the two asked for while something still runs.
      expect(await isSettled(waiting)).toBe(false);
      capacity.finish('2-0');
      expect(await isSettled(waiting)).toBe(true);
    });

    it.each([
      [
        'waitForRoom',
        (capacity: Capacity, stopping: () => boolean) => capacity.waitForRoom(1, stopping),
      ],
      [
        'waitForSlot',
        (capacity: Capacity, stopping: () => boolean) => capacity.waitForSlot(stopping),
      ],
    ])('%s wakes when the consumer stops', async (_, wait) => {
      const capacity = new Capacity(1, 0);
      capacity.start('1-0');
      let stopping = false;
      const waiting = wait(capacity, () => stopping);
      expect(await isSettled(waiting)).toBe(false);
      // A release without stopping and without a free slot keeps it waiting.
      capacity.release();
      expect(await isSettled(waiting)).toBe(false);
      stopping = true;
      capacity.release();
      expect(await isSettled(waiting)).toBe(true);
    });

    it('waitForRoom wakes when a read in flight settles and gives its room back', async () => {
      const capacity = new Capacity(1, 0);
      let answer!: () => void;
      const read = capacity.request(1, new Promise<void>((r) => (answer = r)));
      expect(capacity.room()).toBe(0);
      const waiting = capacity.waitForRoom(1, () => false);
      expect(await isSettled(waiting)).toBe(false);
      answer();
      await read;
      expect(await isSettled(waiting)).toBe(true);
    });

    it('waitForRoom wakes when reserved slots are given back', async () => {
      const capacity = new Capacity(1, 0);
      let finishTake!: () => void;
      const taking = capacity.withReserved(1, () => new Promise<void>((r) => (finishTake = r)));
      // Reserved, and nothing owned: no room at all.
      expect(capacity.room()).toBe(0);
      const waiting = capacity.waitForRoom(1, () => false);
      expect(await isSettled(waiting)).toBe(false);
      finishTake();
      await taking;
      expect(await isSettled(waiting)).toBe(true);
    });

    it('waitForSlot wakes when a handler finishes, before its acknowledgement', async () => {
      const capacity = new Capacity(1, 5);
      capacity.start('1-0');
      const waiting = capacity.waitForSlot(() => false);
      expect(await isSettled(waiting)).toBe(false);
      capacity.handlerDone();
      expect(await isSettled(waiting)).toBe(true);
    });

    it('wakes every waiter on one release', async () => {
      const capacity = new Capacity(1, 0);
      capacity.start('1-0');
      const waiters = [
        capacity.waitForSlot(() => false),
        capacity.waitForSlot(() => false),
        capacity.waitForRoom(1, () => false),
      ];
      capacity.finish('1-0');
      expect(await Promise.all(waiters.map((w) => isSettled(w)))).toEqual([true, true, true]);
    });

    it('whenIdle resolves at once when nothing is owned', async () => {
      expect(await isSettled(new Capacity(1, 0).whenIdle())).toBe(true);
    });

    it('whenIdle resolves once the last owned entry is finished', async () => {
      const capacity = new Capacity(2, 0);
      capacity.start('1-0');
      capacity.start('2-0');
      const idle = capacity.whenIdle();
      capacity.finish('1-0');
      expect(await isSettled(idle)).toBe(false);
      // A handler done with its acknowledgement on the way still owns its entry.
      capacity.handlerDone();
      expect(await isSettled(idle)).toBe(false);
      capacity.finish('2-0');
      expect(await isSettled(idle)).toBe(true);
    });
  });
});
