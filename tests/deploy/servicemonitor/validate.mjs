// Validates ServiceMonitor objects against prometheus-operator's CRD schema, as compiled into
// @kubernetes-models/prometheus-operator (generated from the upstream CRDs). Reads a JSON array of
// objects on stdin; prints one line per ServiceMonitor; exits 1 when any is invalid, 2 when there
// was none to check (a check that checked nothing must not pass).
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const objects = JSON.parse(input).filter((o) => o && o.kind === "ServiceMonitor");
if (objects.length === 0) {
  console.log("no ServiceMonitor to validate");
  process.exit(2);
}
let invalid = 0;
for (const object of objects) {
  try {
    new ServiceMonitor(object).validate();
    console.log(`valid ${object.metadata?.name}`);
  } catch (error) {
    invalid += 1;
    console.log(`INVALID ${object.metadata?.name}: ${error.message}`);
  }
}
process.exit(invalid ? 1 : 0);
