import { Injectable } from '@nestjs/common';
import { GroupFlows, UnknownGroupError } from '../../flow/group-flows.js';
import type { FlowState } from '@redis-streams-alerts/nestjs-redis-streams';
import { JSON_OUTPUT, nonEmpty } from '../cli-options.js';
import { CLI_NAME } from '../cli.constants.js';
import { InvalidInputError, UsageError } from '../cli.errors.js';
import { describeFlow } from '../flow-text.js';
import type { CommandDefinition } from './command-definition.interface.js';
import type { CommandOutput } from './command-output.interface.js';
import { defineCommand } from './define-command.js';

type Action = 'pause' | 'resume';

export interface GroupFlowArgs<A extends Action = Action> {
  name: `groups ${A}`;
  stream: string;
  group: string;
  json: boolean;
}

/** `groups pause` and `groups resume`: the same as the admin API's, through `GroupFlows`. */
@Injectable()
export class GroupFlowCommand {
  constructor(private readonly groupFlows: GroupFlows) {}

  async run(args: GroupFlowArgs): Promise<CommandOutput> {
    const { stream, group } = args;
    const action = args.name === 'groups pause' ? 'pause' : 'resume';
    let flow: FlowState;
    try {
      flow = await this.groupFlows[action](stream, group);
    } catch (error) {
      if (error instanceof UnknownGroupError) throw new InvalidInputError(error.message, args.name);
      throw error;
    }
    const done =
      action === 'pause'
        ? `Paused ${stream}/${group} on every instance: no handler call starts until ` +
          `"${CLI_NAME} groups resume ${stream} ${group}"; calls under way finish.`
        : `Resumed ${stream}/${group} on every instance.`;
    return { data: flow, text: `${done}\nFlow: ${describeFlow(flow)}` };
  }
}

/** The definition of `groups <action>`; both share the runner above. */
function groupFlowCommand<A extends Action>(
  action: A,
  summary: string,
  description: string,
): CommandDefinition<GroupFlowArgs<A>> {
  const name = `groups ${action}` as const;
  return defineCommand<GroupFlowArgs<A>, typeof JSON_OUTPUT, true>({
    name,
    summary,
    usage: `Usage: ${CLI_NAME} ${name} STREAM GROUP [--json]

${description}

  STREAM          A stream the service handles, such as alerts
  GROUP           A consumer group a handler of the service consumes, such as alerts-webhook
  --json          Print the group's flow state as JSON ({ paused, busyUntil?, circuit, ... })`,
    options: JSON_OUTPUT,
    positionals: true,
    read: ({ values, positionals }, topic) => {
      if (positionals.length !== 2) {
        throw new UsageError(
          `Give two names, the stream and the group (got ${positionals.length})`,
          topic,
        );
      }
      const [stream, group] = positionals;
      return {
        stream: nonEmpty(stream, 'STREAM', topic),
        group: nonEmpty(group, 'GROUP', topic),
        json: values.json,
      };
    },
    runner: GroupFlowCommand,
  });
}

export const groupsPauseCommand = groupFlowCommand(
  'pause',
  'Pause a consumer group on every instance',
  `Pauses a consumer group on every instance of the service: no handler call starts until it is
resumed, also across restarts; calls under way finish, and new entries wait in the stream.`,
);

export const groupsResumeCommand = groupFlowCommand(
  'resume',
  'Resume a paused consumer group',
  'Resumes a paused consumer group on every instance. Resuming a group that runs changes nothing.',
);
