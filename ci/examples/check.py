"""Check that the example CI workflows run the harness as the README says.

Usage: python3 ci/examples/check.py GITHUB_ACTIONS_YML GITLAB_CI_YML

The JSON schemas (ci/lint-examples) check the YAML's structure; this checks
its content: every shard runs `harness matrix --shard I/N --format junit
--out DIR` and keeps DIR, N equals the number of shards, one job that needs
the shards runs `harness merge` (JUnit and HTML) and exits with its status.
Exit status 0 when both pass, 1 with one line per problem otherwise.
"""

import re
import sys

import yaml

SHARD_RUN = re.compile(r"harness matrix\b.*--shard\s+\"?(\S+?)\"?\s.*--format junit\b.*--out\s+\"?(\S+?)\"?\s")


def scripts(job):
    """Return the shell text of a GitHub or GitLab job."""
    steps = job.get("steps", [])
    lines = [s.get("run", "") for s in steps if isinstance(s, dict)]
    for key in ("before_script", "script", "after_script"):
        lines.extend(job.get(key, []))
    return "\n".join(lines).replace("\\\n", " ")


def check_github(doc, problems):
    jobs = doc.get("jobs", {})
    shard_jobs = [(n, j) for n, j in jobs.items() if "harness matrix" in scripts(j)]
    if len(shard_jobs) != 1:
        problems.append(f"github: expected one job running harness matrix, found {len(shard_jobs)}")
        return
    name, job = shard_jobs[0]
    shards = job.get("strategy", {}).get("matrix", {}).get("shard", [])
    if shards != list(range(1, len(shards) + 1)) or len(shards) < 2:
        problems.append(f"github: {name}.strategy.matrix.shard must be 1..N, N >= 2 (got {shards})")
    text = scripts(job)
    env = {k: str(v) for s in job.get("steps", []) for k, v in (s.get("env") or {}).items()}
    if env.get("SHARD") != "${{ matrix.shard }}/${{ strategy.job-total }}" or not SHARD_RUN.search(text + " "):
        problems.append(f"github: {name} must run harness matrix --shard ${{{{ matrix.shard }}}}/N --format junit --out DIR")
    uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    if not uploads or "${{ matrix.shard }}" not in str(uploads[0].get("with", {}).get("path")):
        problems.append(f"github: {name} must upload each shard's folder")
    check_merge("github", {n: j for n, j in jobs.items() if j.get("needs") in (name, [name])}, problems)


def check_gitlab(doc, problems):
    jobs = {n: j for n, j in doc.items() if isinstance(j, dict) and ("script" in j)}
    shard_jobs = [(n, j) for n, j in jobs.items() if "harness matrix" in scripts(j)]
    if len(shard_jobs) != 1:
        problems.append(f"gitlab: expected one job running harness matrix, found {len(shard_jobs)}")
        return
    name, job = shard_jobs[0]
    matrix = job.get("parallel", {}).get("matrix", [{}])
    shards = matrix[0].get("SHARD", []) if matrix else []
    total = str(doc.get("variables", {}).get("SHARDS"))
    if shards != [str(i) for i in range(1, len(shards) + 1)] or str(len(shards)) != total:
        problems.append(f"gitlab: {name}.parallel.matrix SHARD must be 1..SHARDS (got {shards}, SHARDS={total})")
    if not SHARD_RUN.search(scripts(job) + " ") or '--shard "$SHARD/$SHARDS"' not in scripts(job):
        problems.append(f"gitlab: {name} must run harness matrix --shard $SHARD/$SHARDS --format junit --out DIR")
    if "shard-$SHARD/" not in job.get("artifacts", {}).get("paths", []):
        problems.append(f"gitlab: {name} must keep each shard's folder as an artifact")
    merges = {n: j for n, j in jobs.items() if any((d.get("job") if isinstance(d, dict) else d) == name for d in j.get("needs", []))}
    for n, j in merges.items():
        if j.get("artifacts", {}).get("reports", {}).get("junit") is None:
            problems.append(f"gitlab: {n} must publish a JUnit report")
    check_merge("gitlab", merges, problems)


def check_merge(where, jobs, problems):
    merge = [(n, j) for n, j in jobs.items() if "harness merge" in scripts(j)]
    if len(merge) != 1:
        problems.append(f"{where}: expected one job that needs the shards and runs harness merge, found {len(merge)}")
        return
    name, job = merge[0]
    text = scripts(job)
    for needle in ("harness merge --format junit", "harness merge --format html", "report.html"):
        if needle not in text:
            problems.append(f"{where}: {name} lacks `{needle}`")
    if not re.search(r'exit "?\$\{?(status|STATUS)', text):
        problems.append(f"{where}: {name} must end with the merge's exit status (the verdict)")


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    with open(argv[1], encoding="utf-8") as f:
        check_github(yaml.safe_load(f), problems)
    with open(argv[2], encoding="utf-8") as f:
        check_gitlab(yaml.safe_load(f), problems)
    for p in problems:
        print(f"ci/examples/check.py: {p}", file=sys.stderr)
    if not problems:
        print("ci/examples/check.py: both example workflows run the harness as documented", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
