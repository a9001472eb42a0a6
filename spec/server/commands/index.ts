/**
 * The command table: every command the test server answers, by name and
 * alias, with the properties the dispatcher acts on (see {@link CommandSpec}).
 * A new command is a new row in one of these files.
 */
import { ADMIN_COMMANDS } from './admin';
import { AGGREGATE_COMMANDS } from './aggregate';
import { BULK_WRITE_COMMANDS } from './bulk-write';
import { DDL_COMMANDS } from './ddl';
import { EXPLAIN_COMMANDS } from './explain';
import { INDEX_COMMANDS } from './indexes';
import { USER_COMMANDS } from './users';
import { HELLO_COMMANDS } from './hello';
import { READ_COMMANDS } from './reads';
import type { CommandSpec } from './types';
import { WRITE_COMMANDS } from './writes';

const ALL: CommandSpec[] = [
  ...HELLO_COMMANDS,
  ...ADMIN_COMMANDS,
  ...WRITE_COMMANDS,
  ...BULK_WRITE_COMMANDS,
  ...READ_COMMANDS,
  ...AGGREGATE_COMMANDS,
  ...DDL_COMMANDS,
  ...INDEX_COMMANDS,
  ...EXPLAIN_COMMANDS,
  ...USER_COMMANDS,
];

export const COMMANDS = new Map<string, CommandSpec>();
for (const spec of ALL) {
  for (const name of [spec.name, ...(spec.aliases ?? [])]) {
    if (COMMANDS.has(name)) throw new Error(`command '${name}' registered twice`);
    COMMANDS.set(name, spec);
  }
}
