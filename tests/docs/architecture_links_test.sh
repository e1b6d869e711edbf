#!/usr/bin/env bash
# docs/architecture.md and README.md name files, folders and functions; this fails when one of
# them is no longer in the tree, so the map cannot silently drift from the code.
# Usage: architecture_links_test.sh SOURCE_DIR
set -euo pipefail
root=$1
failures=0
checked=0

for document in docs/architecture.md README.md; do
  # Every `code span` that looks like a path in the tree: it holds a '/' and starts with one of
  # the project's top-level folders.
  while IFS= read -r path; do
    checked=$((checked + 1))
    if [ ! -e "$root/$path" ]; then
      echo "$document names $path, which does not exist"
      failures=$((failures + 1))
    fi
  done < <(grep -o '`[^` ]*`' "$root/$document" | tr -d '`' |
           grep -E '^(core|host|sdk|plugins|examples|tests|fuzz|bench|docs|packaging|scripts)/' |
           sed -e 's/[,.:]$//' -e 's#/$##' | sort -u)
done

# Every `Class::function` and every `function` named right after a file in
# docs/architecture.md must be in the sources: its last part in a file that also holds its
# first (a member defined inside its class is not spelled out in full anywhere).
while IFS= read -r name; do
  checked=$((checked + 1))
  first=${name%%::*} last=${name##*::}
  if ! grep -rlw --include='*.cpp' --include='*.hpp' --include='*.h' -- "$first" \
      "$root/core" "$root/host" "$root/sdk" "$root/plugins" | xargs -r grep -qw -- "$last"; then
    echo "docs/architecture.md names $name, which no source file mentions"
    failures=$((failures + 1))
  fi
done < <(grep -oE '`[A-Za-z_]+::[A-Za-z_:]+`|`[a-z_]+\.(cpp|hpp)` `[A-Za-z_:]+`' "$root/docs/architecture.md" |
         grep -oE '`[A-Za-z_:]+`$' | tr -d '`' | sort -u)

echo "architecture links: $checked names checked, $failures missing"
[ "$failures" -eq 0 ]
