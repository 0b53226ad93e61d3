#!/usr/bin/env bash
# deploy/k8s/validate.py passes deploy/k8s/*.yaml and refuses each mistake of
# tests/deploy/broken_manifest.yaml, naming it.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
/usr/bin/python3 "$here/validate.py" "$here"/*.yaml || exit 1
output="$(/usr/bin/python3 "$here/validate.py" "$here/../../tests/deploy/broken_manifest.yaml")"
status=$?
echo "$output"
[ "$status" -eq 1 ] || { echo "the broken manifest was accepted"; exit 1; }
for expected in "unknown field 'replica'" "containerPort: expected int" \
                "V1ServicePort: Invalid value for \`port\`"; do
  grep -qF "$expected" <<< "$output" || { echo "missing: $expected"; exit 1; }
done
# The second pass (own checks) runs only on a schema-valid document: fix the schema errors.
fixed="$(mktemp)"; trap 'rm -f "$fixed"' EXIT
sed 's/replica: 1 /replicas: 1 /; s/containerPort: "50051"/containerPort: 50051/; /^---$/,$d' \
  "$here/../../tests/deploy/broken_manifest.yaml" > "$fixed"
output="$(/usr/bin/python3 "$here/validate.py" "$fixed")"
[ $? -eq 1 ] || { echo "own checks accepted the broken selector and probe"; exit 1; }
echo "$output"
for expected in "does not match the pod labels" "probes port 9999"; do
  grep -qF "$expected" <<< "$output" || { echo "missing: $expected"; exit 1; }
done
echo "validator-test: the manifests pass and every planted mistake is refused"
