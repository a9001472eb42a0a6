/**
 * The `$changeStream` stage and the pipeline after it, checked as mongod
 * checks them when the stream is opened.
 */
import { Timestamp, type Document } from 'bson';
import type { CommandContext } from '../commands/types';
import { CommandError, typeMismatch } from '../errors';
import { refuseView } from '../views';
import { parseToken, type TokenData } from './token';

/** What a stream watches: one collection, one database, or every database but the internal ones. */
type Level = 'collection' | 'database' | 'cluster';
/** `fullDocument`: what update events carry as the document after the change. */
type FullDocumentMode = 'default' | 'updateLookup' | 'whenAvailable' | 'required';
/** `fullDocumentBeforeChange`: whether update, replace and delete events carry the pre-image. */
type BeforeChangeMode = 'off' | 'whenAvailable' | 'required';

/** A parsed `$changeStream` stage with the pipeline after it. */
export interface StreamSpec {
  level: Level;
  db: string;
  /** For a collection stream. */
  coll?: string;
  /** The cursor's namespace, as getMore must name it. */
  cursorNs: string;
  fullDocument: FullDocumentMode;
  fullDocumentBeforeChange: BeforeChangeMode;
  showExpandedEvents: boolean;
  showSystemEvents: boolean;
  /** Where the stream starts; absent: just after the newest operation. */
  start?: { kind: 'resumeAfter' | 'startAfter'; token: TokenData } | { kind: 'startAtOperationTime'; time: Timestamp };
  /** The stages after `$changeStream`, without `$changeStreamSplitLargeEvent`. */
  pipeline: Document[];
  splitLargeEvents: boolean;
}

const FULL_DOCUMENT: readonly FullDocumentMode[] = ['default', 'updateLookup', 'whenAvailable', 'required'];
const BEFORE_CHANGE: readonly BeforeChangeMode[] = ['off', 'whenAvailable', 'required'];
/** Options mongod accepts and this server has nothing to do for (sharding and internal ones). */
const IGNORED_BOOLEANS = [
  'showMigrationEvents',
  'allowToRunOnConfigDB',
  'allowToRunOnSystemNS',
  'showRawUpdateDescription',
  'matchCollectionUUIDForUpdateLookup',
];
/** Stages that change one event at a time: the only ones a change stream pipeline may use. */
const ALLOWED_STAGES = new Set(['$match', '$project', '$addFields', '$set', '$unset', '$replaceRoot', '$replaceWith', '$redact']);
const SPLIT_STAGE = '$changeStreamSplitLargeEvent';
/** Other stages mongod knows, which it names as not permitted rather than unrecognized. */
const OTHER_STAGES = new Set([
  '$bucket', '$bucketAuto', '$collStats', '$count', '$densify', '$documents', '$facet', '$fill', '$geoNear',
  '$graphLookup', '$group', '$indexStats', '$limit', '$listSessions', '$lookup', '$merge', '$out',
  '$planCacheStats', '$sample', '$search', '$searchMeta', '$setWindowFields', '$skip', '$sort', '$sortByCount',
  '$unionWith', '$unwind', '$vectorSearch', '$currentOp', '$listLocalSessions',
]);

/** Parses `aggregate`'s pipeline whose first stage is `$changeStream`. */
export function parseStreamSpec(ctx: CommandContext, cmd: Document): StreamSpec {
  const pipeline = cmd.pipeline as Document[];
  const stage = pipeline[0].$changeStream as unknown;
  if (!stage || typeof stage !== 'object' || Array.isArray(stage)) {
    throw new CommandError('Location50808', '$changeStream stage expects a document as argument');
  }
  const options = stage as Document;
  const spec: StreamSpec = {
    level: 'collection',
    db: ctx.db,
    cursorNs: '',
    fullDocument: 'default',
    fullDocumentBeforeChange: 'off',
    showExpandedEvents: false,
    showSystemEvents: false,
    pipeline: [],
    splitLargeEvents: false,
  };
  for (const [key, value] of Object.entries(options)) {
    switch (key) {
      case 'fullDocument':
        spec.fullDocument = enumValue(key, value, FULL_DOCUMENT);
        break;
      case 'fullDocumentBeforeChange':
        spec.fullDocumentBeforeChange = enumValue(key, value, BEFORE_CHANGE);
        break;
      case 'resumeAfter':
      case 'startAfter':
        if (!value || typeof value !== 'object' || Array.isArray(value)) {
          throw typeMismatch(`$changeStream.${key}`, 'object', value);
        }
        break;
      case 'startAtOperationTime':
        if (!(value instanceof Timestamp)) throw typeMismatch(`$changeStream.${key}`, 'timestamp', value);
        break;
      case 'allChangesForCluster':
      case 'showExpandedEvents':
      case 'showSystemEvents':
        boolValue(key, value);
        break;
      default:
        if (IGNORED_BOOLEANS.includes(key)) {
          boolValue(key, value);
          break;
        }
        throw new CommandError('Location40415', `BSON field '$changeStream.${key}' is an unknown field.`);
    }
  }
  spec.showExpandedEvents = options.showExpandedEvents === true;
  spec.showSystemEvents = options.showSystemEvents === true;
  resolveNamespace(ctx, cmd, options, spec);
  resolveStart(options, spec);
  resolvePipeline(pipeline.slice(1), spec);
  return spec;
}

function enumValue<T extends string>(key: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw typeMismatch(`$changeStream.${key}`, 'string', value);
  if (!allowed.includes(value as T)) {
    throw new CommandError('BadValue', `Enumeration value '${value}' for field '$changeStream.${key}' is not a valid value.`);
  }
  return value as T;
}

function boolValue(key: string, value: unknown): void {
  if (typeof value !== 'boolean') throw typeMismatch(`$changeStream.${key}`, 'bool', value);
}

function resolveNamespace(ctx: CommandContext, cmd: Document, options: Document, spec: StreamSpec): void {
  const collectionless = typeof cmd.aggregate !== 'string';
  const ns = collectionless ? `${ctx.db}.$cmd.aggregate` : `${ctx.db}.${cmd.aggregate as string}`;
  const allChanges = options.allChangesForCluster === true;
  if (allChanges && !(ctx.db === 'admin' && collectionless)) {
    throw new CommandError(
      'InvalidOptions',
      `A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with no collection name; found ${ns}`,
    );
  }
  const internalDb = ctx.db === 'admin' ? !allChanges : ctx.db === 'local' || ctx.db === 'config';
  if (internalDb) throw new CommandError('InvalidNamespace', `$changeStream may not be opened on the internal ${ctx.db} database`);
  if (!collectionless && (cmd.aggregate as string).startsWith('system.')) {
    throw new CommandError('InvalidNamespace', `$changeStream may not be opened on the internal ${ns} collection`);
  }
  spec.cursorNs = ns;
  if (allChanges) spec.level = 'cluster';
  else if (collectionless) spec.level = 'database';
  else {
    refuseView(ctx.store, ctx.db, cmd.aggregate as string);
    spec.coll = cmd.aggregate as string;
  }
}

function resolveStart(options: Document, spec: StreamSpec): void {
  if (options.resumeAfter !== undefined && options.startAfter !== undefined) {
    throw new CommandError('Location50865', "Do not specify both 'resumeAfter' and 'startAfter' in a $changeStream stage");
  }
  const kind = options.resumeAfter !== undefined ? 'resumeAfter' : options.startAfter !== undefined ? 'startAfter' : undefined;
  if (kind) {
    const token = parseToken(options[kind]);
    if (options.startAtOperationTime !== undefined) {
      throw new CommandError('Location40674', 'Only one type of resume option is allowed, but multiple were found');
    }
    if (kind === 'resumeAfter' && token.fromInvalidate) {
      throw new CommandError(
        'InvalidResumeToken',
        "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification",
      );
    }
    if (spec.level === 'collection' && !token.uuid && !token.highWaterMark) {
      throw new CommandError(
        'InvalidResumeToken',
        'Attempted to resume a single-collection stream, but the resume token does not include a UUID',
      );
    }
    spec.start = { kind, token };
  } else if (options.startAtOperationTime !== undefined) {
    spec.start = { kind: 'startAtOperationTime', time: options.startAtOperationTime as Timestamp };
  }
}

function resolvePipeline(stages: Document[], spec: StreamSpec): void {
  stages.forEach((stage, i) => {
    const name = stage && typeof stage === 'object' ? Object.keys(stage)[0] : undefined;
    if (name === undefined || Object.keys(stage).length !== 1) {
      throw new CommandError('Location40323', 'A pipeline stage specification object must contain exactly one field.');
    }
    if (name === '$changeStream') {
      throw new CommandError('Location40602', '$changeStream is only valid as the first stage in a pipeline.');
    }
    if (name === SPLIT_STAGE) {
      const arg = stage[name] as unknown;
      if (!arg || typeof arg !== 'object' || Array.isArray(arg) || Object.keys(arg).length > 0) {
        throw new CommandError('Location7182800', '$changeStreamSplitLargeEvent spec should be an empty object');
      }
      if (i !== stages.length - 1) {
        throw new CommandError('Location7182802', '$changeStreamSplitLargeEvent must be the last stage in the pipeline');
      }
      spec.splitLargeEvents = true;
      return;
    }
    if (!ALLOWED_STAGES.has(name)) {
      if (OTHER_STAGES.has(name)) throw new CommandError('IllegalOperation', `${name} is not permitted in a $changeStream pipeline`);
      throw new CommandError('Location40324', `Unrecognized pipeline stage name: '${name}'`);
    }
    spec.pipeline.push(stage);
  });
  const start = spec.start;
  if (start && start.kind !== 'startAtOperationTime' && start.token.fragment !== undefined && !spec.splitLargeEvents) {
    throw new CommandError(
      'ChangeStreamFatalError',
      'To resume from a split event, the $changeStream pipeline must include a $changeStreamSplitLargeEvent stage',
    );
  }
}
