// `npm run lint`: checks that every relative link and every #anchor in README.md, docs/*.md and
// the packages' Markdown (packages/*/*.md and packages/*/docs/*.md) resolves: the file or folder exists, and the anchor is a heading of the target document, slugged
// as GitHub slugs them. External links (http:, mailto:, ...) are not fetched: they are not ours to
// keep. Lists every broken link, then exits 1; exits 0 when there is none.
//
// Usage: node scripts/check-links.mjs [file.md ...]   (default: all of the above)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The Markdown files directly in `dir` (none when it does not exist), sorted. */
function markdownIn(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(dir, name));
}

/** README.md, docs/*.md, and each package's own Markdown (README, CHANGELOG, its docs/). */
function defaultFiles() {
  const packages = readdirSync(join(ROOT, 'packages'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(ROOT, 'packages', entry.name))
    .sort();
  return [
    join(ROOT, 'README.md'),
    ...markdownIn(join(ROOT, 'docs')),
    ...packages.flatMap((dir) => [...markdownIn(dir), ...markdownIn(join(dir, 'docs'))]),
  ];
}

/**
 * The lines of a Markdown file outside fenced code blocks, with inline code spans blanked out
 * (a link written inside backticks is text, not a link), each with its 1-based line number.
 */
function proseLines(markdown) {
  const lines = [];
  let fence = null;
  markdown.split('\n').forEach((line, index) => {
    const opening = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (opening && opening[1][0] === fence[0] && opening[1].length >= fence.length) fence = null;
      return;
    }
    if (opening) {
      fence = opening[1];
      return;
    }
    lines.push({ number: index + 1, text: line, prose: blankCodeSpans(line) });
  });
  return lines;
}

/** Replaces the content of inline code spans with spaces, so that nothing in them is parsed. */
function blankCodeSpans(line) {
  return line.replace(/(`+)([^`]|(?!\1)`)+?\1/g, (span) => ' '.repeat(span.length));
}

/**
 * GitHub's heading id (github-slugger): the heading's text as rendered (code spans keep their
 * content, links their text, emphasis markers go), lower-cased, with every character that is not a
 * letter, mark, digit, connector (`_`), hyphen or space removed, and spaces turned into hyphens.
 */
export function slug(heading) {
  const text = heading
    .replace(/<[^>]+>/g, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .split(/(`+[^`]*`+)/)
    .map((part) =>
      part.startsWith('`')
        ? part.replace(/`/g, '')
        : part.replace(/\*+/g, '').replace(/(?<![\p{L}\p{N}])_+|_+(?![\p{L}\p{N}])/gu, ''),
    )
    .join('');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a document offers: heading slugs (repeats get -1, -2, ...) and HTML ids. */
function anchorsOf(markdown) {
  const anchors = new Set();
  const seen = new Map();
  for (const { text } of proseLines(markdown)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)(\s+#+\s*)?$/.exec(text);
    if (heading) {
      const base = slug(heading[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const [, id] of text.matchAll(/<[a-z][^>]*\s(?:id|name)="([^"]+)"/gi)) anchors.add(id);
  }
  return anchors;
}

/** Link targets on one line: inline links and images, reference definitions, HTML href and src. */
function targetsOf(prose) {
  const targets = [];
  for (const match of prose.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+("[^"]*"|'[^']*'))?\s*\)/g)) {
    targets.push(match[1].replace(/^<|>$/g, ''));
  }
  const definition = /^\s{0,3}\[[^\]]+\]:\s*(\S+)/.exec(prose);
  if (definition) targets.push(definition[1].replace(/^<|>$/g, ''));
  for (const match of prose.matchAll(/\s(?:href|src)="([^"]+)"/g)) targets.push(match[1]);
  return targets;
}

const anchorCache = new Map();

function anchorsOfFile(path) {
  if (!anchorCache.has(path)) anchorCache.set(path, anchorsOf(readFileSync(path, 'utf8')));
  return anchorCache.get(path);
}

/** Why a target does not resolve from `file`, or undefined when it does. */
function problemWith(file, target) {
  // A scheme (http:, mailto:) or a protocol-relative URL: external, not checked.
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined;
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const path =
    pathPart === ''
      ? file
      : pathPart.startsWith('/')
        ? join(ROOT, pathPart)
        : resolve(dirname(file), pathPart);
  if (!existsSync(path)) return `${relative(ROOT, path)} does not exist`;
  if (anchor === undefined || !path.endsWith('.md') || statSync(path).isDirectory()) {
    return undefined;
  }
  if (anchor === '') return 'empty anchor';
  if (!anchorsOfFile(path).has(anchor)) {
    return `no heading with the anchor #${anchor} in ${relative(ROOT, path)}`;
  }
  return undefined;
}

function check(files) {
  const broken = [];
  let links = 0;
  for (const file of files) {
    for (const line of proseLines(readFileSync(file, 'utf8'))) {
      for (const target of targetsOf(line.prose)) {
        links += 1;
        const problem = problemWith(file, target);
        if (problem) broken.push(`${relative(ROOT, file)}:${line.number}: ${target}: ${problem}`);
      }
    }
  }
  return { broken, links };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files =
    process.argv.length > 2 ? process.argv.slice(2).map((f) => resolve(f)) : defaultFiles();
  const { broken, links } = check(files);
  if (broken.length > 0) {
    process.stderr.write(`check-links: ${broken.length} broken of ${links} links\n`);
    for (const line of broken) process.stderr.write(`  ${line}\n`);
    process.exit(1);
  }
  process.stdout.write(`check-links: ${links} links in ${files.length} files resolve\n`);
}
