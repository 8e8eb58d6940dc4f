import { Inject, Injectable } from '@nestjs/common';
import { IsIn, IsNotEmpty, IsString } from 'class-validator';
import { StreamHandler, type StreamMessage } from '@redis-streams-alerts/nestjs-redis-streams';

/** What each handler does is decided per test through this probe. */
export const PROBE = Symbol('probe');
export interface Call {
  handler: string;
  payload: unknown;
  message: StreamMessage;
  at: number;
}
export class Probe {
  calls: Call[] = [];
  behaviour: (call: Call) => unknown = () => undefined;
  record(handler: string, payload: unknown, message: StreamMessage): unknown {
    const call = { handler, payload, message, at: Date.now() };
    this.calls.push(call);
    return this.behaviour(call);
  }
  of(handler: string): Call[] {
    return this.calls.filter((c) => c.handler === handler);
  }
}

export class OrderDto {
  @IsString()
  @IsNotEmpty()
  message!: string;

  @IsIn(['low', 'high'])
  priority: string = 'low';
}

@Injectable()
export class FirstHandler {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'first', dto: OrderDto })
  handle(payload: OrderDto, message: StreamMessage): unknown {
    return this.probe.record('first', payload, message);
  }
}

@Injectable()
export class SecondHandler {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'second' })
  handle(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('second', payload, message);
  }
}

/** `[f1, v1, f2, v2]` as an object. */
export function toRecord(flat: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i]] = flat[i + 1];
  return record;
}
