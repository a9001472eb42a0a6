/**
 * Synthetic documents shaped like the driver benchmark's data sets: a
 * ~1.6 KB "tweet" (nested, mixed types) and a ~250-byte small document.
 * Generated deterministically so every run and both sides see the same bytes.
 */
import type { Document } from 'mongodb';

const WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa'.split(' ');

function words(seed: number, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(WORDS[(seed * 7 + i * 13) % WORDS.length]);
  return out.join(' ');
}

/** About 1,600 BSON bytes: strings, numbers, booleans, a date, nested objects and arrays. */
export function tweet(i: number): Document {
  return {
    text: words(i, 44),
    created: new Date(Date.UTC(2024, 0, 1) + i * 1000),
    lang: 'en',
    source: 'rxmongo-bench',
    truncated: false,
    retweets: i % 97,
    favorites: (i * 31) % 1013,
    geo: null,
    user: {
      handle: `user_${i % 1000}`,
      name: words(i + 1, 3),
      description: words(i + 2, 36),
      followers: (i * 17) % 50_000,
      friends: (i * 5) % 3_000,
      verified: i % 11 === 0,
      location: words(i + 3, 2),
      since: new Date(Date.UTC(2015, 0, 1) + (i % 365) * 86_400_000),
      profile: { color: '1DA1F2', background: 'C0DEED', image: `https://example.invalid/img/${i % 1000}.png` },
    },
    entities: {
      hashtags: [words(i + 4, 1), words(i + 5, 1), words(i + 6, 1)].map((text, k) => ({ text, indices: [k * 10, k * 10 + 8] })),
      mentions: [0, 1].map((k) => ({ handle: `user_${(i + k + 1) % 1000}`, indices: [40 + k * 12, 50 + k * 12] })),
      urls: [{ url: `https://example.invalid/t/${i}`, expanded: `https://example.invalid/articles/${words(i + 7, 4).replace(/ /g, '-')}` }],
    },
    place: { name: words(i + 8, 2), country: 'Nowhere', code: 'NW', box: [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]] },
    thread: { replies: i % 13, quoted: false, conversation: `conv-${i % 4096}` },
  };
}

/** About 250 BSON bytes. */
export function smallDoc(i: number): Document {
  return {
    name: `item-${i}`,
    kind: 'small',
    seq: i,
    price: (i % 1000) / 10,
    active: i % 2 === 0,
    tags: ['one', 'two', 'three'],
    note: words(i, 17),
  };
}
