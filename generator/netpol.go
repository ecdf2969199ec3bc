package generator

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// postgresPort is the port of the restored cluster's services.
const postgresPort = 5432

// networkPolicyNotes say which NetworkPolicies of the namespace would stop the verification
// Job from reaching the restored cluster: one selecting the cluster's pods for ingress with no
// rule admitting the Job's pod on 5432, or selecting the Job's pod for egress with no rule to
// the cluster's pods on 5432 (or none for DNS, which resolves the -rw service). Policies of
// other engines (Cilium, Calico) are named, not evaluated.
func (g *gen) networkPolicyNotes() []string {
	job := verifyLabelMap(g.name)
	db := map[string]string{"cnpg.io/cluster": g.name, "cnpg.io/podRole": "instance", "cnpg.io/instanceRole": "primary", "role": "primary"}
	var out []string
	for _, o := range g.in.Repo.Deployed() {
		if o.Namespace != g.ns && !strings.HasPrefix(o.Kind, "Cilium") {
			continue
		}
		switch {
		case o.Is("networking.k8s.io", "NetworkPolicy"):
		case o.Is("cilium.io", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"), o.Is("crd.projectcalico.org", "NetworkPolicy", "GlobalNetworkPolicy"), o.Is("projectcalico.org", "NetworkPolicy", "GlobalNetworkPolicy"):
			out = append(out, fmt.Sprintf("%s is a %s, which the tool does not evaluate: make sure it lets the verification Job's pod (%s) reach port %d of %s's pods, or the Job cannot connect and the cutover waits",
				o, o.APIVersion, labelText(job), postgresPort, g.name))
			continue
		default:
			continue
		}
		spec, _ := o.Body["spec"].(map[string]any)
		sel, _ := spec["podSelector"].(map[string]any)
		types := policyTypes(spec)
		if types["Ingress"] && selects(sel, db) && !admits(spec["ingress"], "from", job, g.ns) {
			out = append(out, fmt.Sprintf("NetworkPolicy %s (%s:%d) selects the restored cluster's pods and no ingress rule admits the verification Job's pod (%s) on port %d: the Job cannot connect and the cutover waits; add a rule with that podSelector",
				o.Name, o.File, o.Line, labelText(job), postgresPort))
		}
		if types["Egress"] && selects(sel, job) {
			if !admits(spec["egress"], "to", db, g.ns) {
				out = append(out, fmt.Sprintf("NetworkPolicy %s (%s:%d) selects the verification Job's pod for egress and no rule lets it reach the restored cluster's pods (cnpg.io/cluster: %s) on port %d: the Job cannot connect and the cutover waits; add an egress rule",
					o.Name, o.File, o.Line, g.name, postgresPort))
			} else if !allowsDNS(spec["egress"]) {
				out = append(out, fmt.Sprintf("NetworkPolicy %s (%s:%d) limits the verification Job's egress and allows no DNS (port 53): it cannot resolve %s-rw; add an egress rule to the cluster's DNS",
					o.Name, o.File, o.Line, g.name))
			}
		}
	}
	return out
}

func policyTypes(spec map[string]any) map[string]bool {
	types := map[string]bool{}
	if list, ok := spec["policyTypes"].([]any); ok {
		for _, t := range list {
			types[fmt.Sprint(t)] = true
		}
		return types
	}
	// Without policyTypes, a policy restricts ingress, and egress when it has egress rules.
	types["Ingress"] = true
	if _, ok := spec["egress"]; ok {
		types["Egress"] = true
	}
	return types
}

// selects says whether a label selector may select a pod with labels: matchLabels must all
// match; matchExpressions are read for In, NotIn, Exists and DoesNotExist.
func selects(sel map[string]any, labels map[string]string) bool {
	if ml, ok := sel["matchLabels"].(map[string]any); ok {
		for k, v := range ml {
			if labels[k] != fmt.Sprint(v) {
				return false
			}
		}
	}
	exprs, _ := sel["matchExpressions"].([]any)
	for _, e := range exprs {
		m, _ := e.(map[string]any)
		key, _ := m["key"].(string)
		val, has := labels[key]
		var values []string
		if vs, ok := m["values"].([]any); ok {
			for _, v := range vs {
				values = append(values, fmt.Sprint(v))
			}
		}
		in := false
		for _, v := range values {
			in = in || (has && v == val)
		}
		switch m["operator"] {
		case "In":
			if !in {
				return false
			}
		case "NotIn":
			if in {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		}
	}
	return true
}

// admits says whether one of rules (ingress "from" or egress "to") lets a pod with labels in
// namespace ns through on the PostgreSQL port. An ipBlock peer is counted as admitting: pod
// addresses are not known here.
func admits(rules any, peersKey string, labels map[string]string, ns string) bool {
	list, _ := rules.([]any)
	for _, r := range list {
		rule, _ := r.(map[string]any)
		if !portAllowed(rule["ports"], postgresPort) {
			continue
		}
		peers, ok := rule[peersKey].([]any)
		if !ok || len(peers) == 0 {
			return true
		}
		for _, p := range peers {
			peer, _ := p.(map[string]any)
			if _, ok := peer["ipBlock"]; ok {
				return true
			}
			nsSel, hasNS := peer["namespaceSelector"].(map[string]any)
			if hasNS && !selects(nsSel, map[string]string{"kubernetes.io/metadata.name": ns}) {
				continue
			}
			podSel, hasPod := peer["podSelector"].(map[string]any)
			if !hasPod || selects(podSel, labels) {
				return true
			}
		}
	}
	return false
}

func portAllowed(ports any, port int) bool {
	list, ok := ports.([]any)
	if !ok || len(list) == 0 {
		return true
	}
	for _, p := range list {
		m, _ := p.(map[string]any)
		switch v := m["port"].(type) {
		case nil:
			return true
		case string:
			if v == "postgresql" || v == fmt.Sprint(port) {
				return true
			}
		default:
			from, to := number(v), number(v)
			if end, ok := m["endPort"]; ok {
				to = number(end)
			}
			if from <= port && port <= to {
				return true
			}
		}
	}
	return false
}

func allowsDNS(rules any) bool {
	list, _ := rules.([]any)
	for _, r := range list {
		rule, _ := r.(map[string]any)
		if !portAllowed(rule["ports"], 53) {
			continue
		}
		// DNS runs in another namespace (kube-system): only a rule to anywhere, to other
		// namespaces or to addresses reaches it.
		peers, ok := rule["to"].([]any)
		if !ok || len(peers) == 0 {
			return true
		}
		for _, p := range peers {
			peer, _ := p.(map[string]any)
			if _, ok := peer["namespaceSelector"]; ok {
				return true
			}
			if _, ok := peer["ipBlock"]; ok {
				return true
			}
		}
	}
	return false
}

// number reads a port number from a decoded YAML value (-1 when it is not one).
func number(v any) int {
	n, err := strconv.Atoi(fmt.Sprint(v))
	if err != nil {
		return -1
	}
	return n
}

func labelText(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ", ")
}
