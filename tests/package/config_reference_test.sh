#!/usr/bin/env bash
# docs/operations.md's configuration reference against `chatrix --help` (which prints the
# settings table the server parses with), both ways: every setting in --help has a row with
# its variable and its flag, every row names a setting --help has, with the same flag, and
# where --help gives a one-word default ("(default 10s)") the row's default cell shows it.
# Usage: config_reference_test.sh <chatrix> <docs/operations.md>
set -euo pipefail
chatrix=$1
doc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --help: "  --flag VALUE   VARIABLE: help ... (default X)", the help on the next line when
# the flag is long. Out: "VARIABLE --flag DEFAULT" (DEFAULT "-" when not one word).
(cd "$tmp" && "$chatrix" --help) | awk '
  /^  --[a-z0-9-]+ VALUE/ { flag = $1; sub(/^  --[a-z0-9-]+ VALUE */, "") }
  flag != "" && match($0, /[A-Z][A-Z0-9_]*: /) {
    variable = substr($0, RSTART, RLENGTH - 2)
    default_value = "-"
    if (match($0, /\(default [^ ;)]+\)$/)) default_value = substr($0, RSTART + 9, RLENGTH - 10)
    print variable, flag, default_value
    flag = ""
  }' | sort >"$tmp/help"
[ "$(wc -l <"$tmp/help")" -ge 40 ] || { cat "$tmp/help"; echo "could not read the settings from --help"; exit 1; }

# The doc: table rows of the "Configuration reference" section, "| `VARIABLE` ... | `--flag` |
# default | meaning |". Out: "VARIABLE --flag" and the default cell per variable.
awk '
  /^## / { in_section = ($0 == "## Configuration reference") }
  in_section && /^\| `[A-Z]/ {
    split($0, cell, "|")
    match(cell[2], /`[A-Z][A-Z0-9_]*`/); variable = substr(cell[2], RSTART + 1, RLENGTH - 2)
    match(cell[3], /`--[a-z0-9-]+`/); flag = substr(cell[3], RSTART + 1, RLENGTH - 2)
    print variable, flag > "'"$tmp/doc"'"
    print variable "\t" cell[4] > "'"$tmp/doc-defaults"'"
  }' "$doc"
[ -s "$tmp/doc" ] || { echo "no settings table under '## Configuration reference' in $doc"; exit 1; }
sort -o "$tmp/doc" "$tmp/doc"

failures=0
missing=$(comm -23 <(cut -d' ' -f1,2 "$tmp/help") "$tmp/doc")
[ -z "$missing" ] || { echo "in --help but not in the reference (variable, flag):"; echo "$missing"; failures=1; }
extra=$(comm -13 <(cut -d' ' -f1,2 "$tmp/help") "$tmp/doc")
[ -z "$extra" ] || { echo "in the reference but not in --help (variable, flag):"; echo "$extra"; failures=1; }
duplicates=$(cut -d' ' -f1 "$tmp/doc" | uniq -d)
[ -z "$duplicates" ] || { echo "documented twice: $duplicates"; failures=1; }
while read -r variable _ default_value; do
  [ "$default_value" = - ] && continue
  cell=$(awk -F'\t' -v v="$variable" '$1 == v {print $2}' "$tmp/doc-defaults")
  [ -z "$cell" ] || [[ $cell == *"$default_value"* ]] ||
    { echo "$variable: --help says default $default_value, the reference says:$cell"; failures=1; }
done <"$tmp/help"
[ "$failures" -eq 0 ] || exit 1
echo "configuration reference matches --help: $(wc -l <"$tmp/doc") settings"
