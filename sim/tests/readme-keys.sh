#!/usr/bin/env bash
# readme-keys.sh EPTSIM [--check]: put `eptsim config --markdown` between the README's
# keys markers, or with --check fail when the README's table differs from the schema.
set -eu
eptsim=$1
new=$(mktemp)
trap 'rm -f "$new"' EXIT
awk -v table="$("$eptsim" config --markdown)" '
	/<!-- keys:begin -->/ { print; print table; skip = 1; next }
	/<!-- keys:end -->/ { skip = 0 }
	!skip { print }' README > "$new"
if [ "${2:-}" = --check ]; then
	if cmp -s README "$new"; then
		echo "README key table matches the schema"
	else
		echo "README key table is out of date: run make readme-keys"
		exit 1
	fi
else
	cp "$new" README
fi
