#!/usr/bin/env bash
# Deploys ade-autopilot into a subscription, in the only order that works:
#   pre-flight (the caller's rights; nothing is created unless they suffice) -> existing system topics
#   -> build the package -> check the settings with the app's configuration module -> validate
#   -> infrastructure (main.json) -> Graph permission (aad mode only) -> code (zip deploy)
#   -> wait until the functions are indexed -> Event Grid subscriptions (event-subscriptions.json).
# Event subscriptions come last because Event Grid rejects an AzureFunction endpoint that does not exist yet.
# The code deploy and the event subscriptions are the first uses of role assignments main.json just made, which
# take minutes to propagate: an authorization failure there is waited out and retried.
#
# Idempotent: both templates are declarative ARM deployments (re-applying them changes nothing that is
# already right), the zip deploy is skipped when the package hash tagged on the Function App is unchanged,
# and the Graph app-role assignment is looked up before it is created.
#
# --dry-run prints every command, in order, and calls nothing: no Azure, no npm, no zip.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
MAIN_TEMPLATE="$SCRIPT_DIR/main.json"
EVENTS_TEMPLATE="$SCRIPT_DIR/event-subscriptions.json"

# Microsoft Graph's application id is the same in every tenant.
readonly GRAPH_APP_ID="00000003-0000-0000-c000-000000000000"
readonly GRAPH_PERMISSION="Application.ReadWrite.OwnedBy"
readonly PACKAGE_TAG="ade-autopilot-package-sha256"
readonly REQUIRED_FUNCTIONS=(vmWritten armDrift policyStates secretEvents)

DRY_RUN=false
LOCATION=""
PARAMETERS_FILE="$SCRIPT_DIR/main.parameters.json"
DEPLOYMENT_NAME="ade-autopilot"
SUBSCRIPTION=""
PACKAGE_DIR=""
FUNCTION_WAIT_SECONDS=600
FUNCTION_POLL_SECONDS=15
ROLE_WAIT_SECONDS=900
ROLE_POLL_SECONDS="${ADE_DEPLOY_ROLE_POLL_SECONDS:-30}"
ORIGINAL_ARGS=("$@")

# Built-in Entra role templates that may grant Microsoft Graph application permissions, and the Graph application
# permission a service principal needs for the same
# (https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference).
readonly GLOBAL_ADMINISTRATOR_ROLE="62e90394-69f5-4237-9190-012177145e10"
readonly PRIVILEGED_ROLE_ADMINISTRATOR_ROLE="e8611ab8-c189-46e8-94e1-60213ab1f814"
readonly APP_ROLE_ASSIGNMENT_READWRITE_ALL="06b708a9-e830-4db3-a914-8e69da51d44f"
# Application.ReadWrite.OwnedBy's id (https://learn.microsoft.com/graph/permissions-reference), for the pre-flight's
# "already granted?" look-up; step 7 reads it from Graph's service principal.
readonly GRAPH_PERMISSION_ID="18a4783c-866b-4cc7-a460-3d5e5662c884"

usage() {
  cat <<'USAGE'
Usage: infra/deploy.sh --location <region> [options]

  --location, -l <region>        Region of the deployment and of the app resources (required unless the
                                 parameters file sets "location").
  --parameters, -p <file>        ARM parameters file (default: infra/main.parameters.json).
  --subscription, -s <id|name>   Subscription to deploy into (default: the Azure CLI's current one).
  --name <name>                  Deployment name (default: ade-autopilot; the event subscriptions use
                                 <name>-events).
  --package-dir <dir>            Deploy this already-built package (node infra/package.cjs <dir>: host.json,
                                 package.json, dist/main.js, dist/sdk.js) instead of building from the
                                 repository. Its host.json must speak the parameters' durableBackend
                                 (package.cjs --durable-backend); a mismatch stops the script before
                                 anything is called.
  --function-wait-seconds <n>    How long to wait for the functions to be indexed after the code deploy
                                 (default: 600).
  --role-wait-seconds <n>        How long to keep retrying the code deploy and the event subscriptions while
                                 Azure refuses them for missing authorization, i.e. while the new role
                                 assignments propagate (default: 900).
  --dry-run                      Print every command in order; call nothing.
  --help, -h                     This text.

Prerequisites: Azure CLI 2.60+ logged in (az login) as Owner (or Contributor + User Access Administrator)
of every target subscription; in aad mode also Privileged Role Administrator (or an equivalent Entra role)
to grant Microsoft Graph Application.ReadWrite.OwnedBy (single-pass mode needs no Graph permission:
--parameters infra/single-pass.parameters.json); Node.js 20 or 22 and npm; zip. A pre-flight checks these
rights and stops before anything is created, printing what a privileged person should run.
USAGE
}

die() { printf 'deploy.sh: error: %s\n' "$*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }

# Prints a command as it will run: plain words as they are, anything else in single quotes, so the
# line can be copied into a shell.
show_cmd() {
  local arg line="+"
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
      line+=" $arg"
    else
      line+=" '${arg//\'/\'\\\'\'}'"
    fi
  done
  printf '%s\n' "$line"
}

# Runs a command (prints it first); in dry-run mode only prints it.
run() {
  show_cmd "$@"
  if [[ "$DRY_RUN" == false ]]; then
    "$@"
  fi
}

# capture VAR PLACEHOLDER command... : stores the command's stdout in VAR; in dry-run mode stores PLACEHOLDER.
capture() {
  local var="$1" placeholder="$2"
  shift 2
  show_cmd "$@"
  local value="$placeholder"
  if [[ "$DRY_RUN" == false ]]; then
    value="$("$@")"
  fi
  printf -v "$var" '%s' "$value"
}

# Like capture, but a failing command (e.g. "not found") yields an empty value instead of stopping.
capture_optional() {
  local var="$1" placeholder="$2"
  shift 2
  show_cmd "$@"
  local value="$placeholder"
  if [[ "$DRY_RUN" == false ]]; then
    value="$("$@" 2>/dev/null)" || value=""
  fi
  printf -v "$var" '%s' "$value"
}

# True when the command's stderr (in the file $1) says Azure refused it for missing authorization, which is what a
# role assignment that has not propagated yet looks like (403 AuthorizationFailed, or Storage's
# AuthorizationPermissionMismatch for the package upload).
is_authorization_error() {
  grep -qiE 'AuthorizationFailed|AuthorizationPermissionMismatch|does not have (authorization|permission)|\b403\b|Forbidden' "$1"
}

# run_retrying_authorization command...: like run, but while Azure refuses the command for missing authorization it
# waits ROLE_POLL_SECONDS and tries again, for up to ROLE_WAIT_SECONDS. Role assignments take up to 10 minutes to
# propagate (https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---role-assignment-changes-are-not-being-detected).
# Any other failure stops the script at once.
run_retrying_authorization() {
  show_cmd "$@"
  [[ "$DRY_RUN" == true ]] && return 0
  local deadline=$((SECONDS + ROLE_WAIT_SECONDS)) attempt=1 errors
  errors="$(mktemp "$WORK_DIR/stderr.XXXXXX")"
  while :; do
    if "$@" 2>"$errors"; then
      cat "$errors" >&2
      ((attempt == 1)) || note "accepted on attempt $attempt"
      return 0
    fi
    if ! is_authorization_error "$errors"; then
      cat "$errors" >&2
      die "failed: $*"
    fi
    if ((SECONDS >= deadline)); then
      cat "$errors" >&2
      die "still refused for missing authorization after ${ROLE_WAIT_SECONDS}s (role assignments normally propagate within 10 minutes): re-run this script later, or raise --role-wait-seconds"
    fi
    note "refused for missing authorization (attempt $attempt): waiting ${ROLE_POLL_SECONDS}s for the new role assignments to propagate"
    attempt=$((attempt + 1))
    sleep "$ROLE_POLL_SECONDS"
  done
}

# Value of a template parameter: the parameters file's value, else the template default (unset if the
# default is an ARM expression). Arrays print as JSON. Reads local files only.
param_value() {
  # shellcheck disable=SC2016 # JavaScript, not shell: nothing is meant to expand.
  node -e '
    const fs = require("fs");
    const [templatePath, parametersPath, name] = process.argv.slice(1);
    const template = JSON.parse(fs.readFileSync(templatePath, "utf8"));
    const file = JSON.parse(fs.readFileSync(parametersPath, "utf8"));
    let value = file.parameters?.[name]?.value;
    if (value === undefined) value = template.parameters?.[name]?.defaultValue;
    if (typeof value === "string" && value.startsWith("[") && !value.startsWith("[[")) value = undefined;
    if (value !== undefined) process.stdout.write(typeof value === "string" ? value : JSON.stringify(value));
  ' "$MAIN_TEMPLATE" "$PARAMETERS_FILE" "$1"
}

# Loads a deployment's outputs JSON into the OUTPUT associative array (one node process for all of them);
# in dry-run mode every requested name gets a placeholder naming it.
declare -A OUTPUT=()
load_outputs() {
  local json="$1" name value
  shift
  if [[ "$DRY_RUN" == true ]]; then
    for name in "$@"; do OUTPUT[$name]="<$name>"; done
    return
  fi
  # shellcheck disable=SC2016 # JavaScript, not shell: nothing is meant to expand.
  while IFS=$'\t' read -r name value; do
    OUTPUT[$name]="$value"
  done < <(node -e '
    const [json, ...names] = process.argv.slice(1);
    const outputs = JSON.parse(json);
    for (const name of names) {
      const key = Object.keys(outputs).find((k) => k.toLowerCase() === name.toLowerCase());
      if (key === undefined) { console.error(`deploy.sh: error: deployment output ${name} is missing`); process.exit(1); }
      const value = outputs[key].value;
      process.stdout.write(`${name}\t${typeof value === "string" ? value : JSON.stringify(value)}\n`);
    }
  ' "$json" "$@")
  for name in "$@"; do
    [[ -n "${OUTPUT[$name]:-}" ]] || die "deployment output $name is missing or empty"
  done
}

# sha256 over the relative paths and contents of every file in the package directory, in a stable order,
# so an unchanged build gives an unchanged hash (zip timestamps would not).
package_hash() {
  (cd "$1" && find . -type f -not -path './node_modules/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

while (($#)); do
  case "$1" in
    --dry-run) DRY_RUN=true ;;
    --location | -l) LOCATION="${2:?--location needs a region}"; shift ;;
    --parameters | -p) PARAMETERS_FILE="${2:?--parameters needs a file}"; shift ;;
    --subscription | -s) SUBSCRIPTION="${2:?--subscription needs an id or name}"; shift ;;
    --name) DEPLOYMENT_NAME="${2:?--name needs a value}"; shift ;;
    --package-dir) PACKAGE_DIR="${2:?--package-dir needs a directory}"; shift ;;
    --function-wait-seconds) FUNCTION_WAIT_SECONDS="${2:?--function-wait-seconds needs a number}"; shift ;;
    --role-wait-seconds) ROLE_WAIT_SECONDS="${2:?--role-wait-seconds needs a number}"; shift ;;
    --help | -h) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

[[ -f "$PARAMETERS_FILE" ]] || die "parameters file not found: $PARAMETERS_FILE"
[[ "$FUNCTION_WAIT_SECONDS" =~ ^[0-9]+$ ]] || die "--function-wait-seconds must be a whole number of seconds"
[[ "$ROLE_WAIT_SECONDS" =~ ^[0-9]+$ ]] || die "--role-wait-seconds must be a whole number of seconds"
[[ "$ROLE_POLL_SECONDS" =~ ^[0-9]+$ ]] || die "ADE_DEPLOY_ROLE_POLL_SECONDS must be a whole number of seconds"
command -v node >/dev/null 2>&1 || die "node is required (Node.js 20 or 22) to read the parameters file and build the app"
if [[ -z "$LOCATION" ]]; then
  LOCATION="$(param_value location)"
fi
[[ -n "$LOCATION" ]] || die "--location is required (or set \"location\" in $PARAMETERS_FILE)"
ENCRYPTION_MODE="$(param_value encryptionMode)"
case "$ENCRYPTION_MODE" in
  aad | single-pass | encryption-at-host) ;;
  *) die "encryptionMode must be aad, single-pass or encryption-at-host, got '$ENCRYPTION_MODE'" ;;
esac
# The Durable backend decides the packaged host.json (infra/package.cjs --durable-backend): the Azure Storage provider, or
# the Durable Task Scheduler's azureManaged one, whose scheduler, task hub and settings main.json deploys.
DURABLE_BACKEND="$(param_value durableBackend)"
case "$DURABLE_BACKEND" in
  AzureStorage | DurableTaskScheduler) ;;
  *) die "durableBackend must be AzureStorage or DurableTaskScheduler, got '$DURABLE_BACKEND'" ;;
esac
if [[ -n "$PACKAGE_DIR" ]]; then
  [[ -d "$PACKAGE_DIR" ]] || die "--package-dir is not a directory: $PACKAGE_DIR"
  PACKAGE_DIR="$(cd "$PACKAGE_DIR" && pwd)"
  # A prebuilt package must speak the chosen backend: a mismatch would start the app on the wrong (or no) task hub.
  # shellcheck disable=SC2016 # JavaScript, not shell: nothing is meant to expand.
  PACKAGED_BACKEND="$(node -e '
    const fs = require("fs");
    let host;
    try { host = JSON.parse(fs.readFileSync(process.argv[1], "utf8").replace(/^\uFEFF/, "")); }
    catch (error) { process.stdout.write(`unreadable (${error.message.split("\n")[0]})`); process.exit(0); }
    const type = host?.extensions?.durableTask?.storageProvider?.type;
    if (type === undefined || /^azurestorage$/i.test(type)) process.stdout.write("AzureStorage");
    else if (/^azuremanaged$/i.test(type)) process.stdout.write("DurableTaskScheduler");
    else process.stdout.write(`storageProvider.type ${JSON.stringify(type)}`);
  ' "$PACKAGE_DIR/host.json")"
  [[ "$PACKAGED_BACKEND" == "$DURABLE_BACKEND" ]] ||
    die "--package-dir $PACKAGE_DIR: its host.json is $PACKAGED_BACKEND but the parameters choose durableBackend $DURABLE_BACKEND; rebuild it with: node infra/package.cjs <dir> --durable-backend $DURABLE_BACKEND"
fi

if [[ "$DRY_RUN" == true ]]; then
  printf 'Dry run: printing every command in order; nothing is executed and Azure is not called.\n'
  printf 'Values that only Azure knows are shown as <placeholders>.\n'
else
  for tool in az npm zip sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required (see infra/README.md, Prerequisites)"
  done
fi
note "parameters: $PARAMETERS_FILE"
note "location: $LOCATION, encryption mode: $ENCRYPTION_MODE, Durable backend: $DURABLE_BACKEND, deployment: $DEPLOYMENT_NAME"

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/ade-autopilot-deploy.XXXXXX")"
trap 'rm -rf "$WORK_DIR"' EXIT

step "1/10 Azure context"
SUBSCRIPTION_ID="" PREVIOUS_APP_ID="" OUTPUTS="" CALLER="" CALLER_TYPE=""
if [[ -n "$SUBSCRIPTION" ]]; then
  run az account set --subscription "$SUBSCRIPTION"
fi
capture SUBSCRIPTION_ID "<subscription-id>" az account show --query id --output tsv
capture CALLER "<caller>" az account show --query user.name --output tsv
capture CALLER_TYPE "user" az account show --query user.type --output tsv
note "deploying into subscription $SUBSCRIPTION_ID as $CALLER ($CALLER_TYPE)"
# The subscriptions main.json deploys into: targetSubscriptionIds, or the deployment subscription.
TARGETS=()
mapfile -t TARGETS < <(node -e '
  const list = JSON.parse(process.argv[1] || "[]");
  for (const id of list.length > 0 ? list : [process.argv[2]]) console.log(id);
' "$(param_value targetSubscriptionIds)" "$SUBSCRIPTION_ID")
VAULT_RG_PARAMETER="$(param_value vaultResourceGroupName)"
OWN_RESOURCE_TOPIC="$(node -e 'process.stdout.write(require(process.argv[1]).variables.resourceEventsTopicName)' "$MAIN_TEMPLATE")"

step "2/10 Pre-flight: may $CALLER do what this deployment does? (nothing is created before this passes)"
REFUSALS=() REMEDIES=()
for sub in "$SUBSCRIPTION_ID" "${TARGETS[@]}"; do
  [[ " ${CHECKED_SUBSCRIPTIONS:-} " == *" $sub "* ]] && continue
  CHECKED_SUBSCRIPTIONS="${CHECKED_SUBSCRIPTIONS:-} $sub"
  # ARM's effective permissions of the caller at the subscription: every role, through groups too.
  PERMISSIONS=""
  capture_optional PERMISSIONS '[{"actions":["*"],"notActions":[]}]' az rest --method GET \
    --uri "https://management.azure.com/subscriptions/$sub/providers/Microsoft.Authorization/permissions?api-version=2022-04-01" \
    --query value --output json
  # shellcheck disable=SC2016 # JavaScript, not shell: nothing is meant to expand.
  if ! node -e '
    const permissions = JSON.parse(process.argv[1] || "[]");
    const matches = (pattern, action) =>
      new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i").test(action);
    const allowed = (action) =>
      permissions.some((p) => (p.actions ?? []).some((a) => matches(a, action)) && !(p.notActions ?? []).some((a) => matches(a, action)));
    const needed = ["Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleDefinitions/write", "Microsoft.Resources/deployments/write"];
    process.exit(needed.every(allowed) ? 0 : 1);
  ' "$PERMISSIONS"; then
    REFUSALS+=("subscription $sub: $CALLER may not create role assignments and custom roles there (needs Owner, or Contributor + User Access Administrator)")
    REMEDIES+=("az role assignment create --assignee $CALLER --role Owner --scope /subscriptions/$sub")
  fi
done
if [[ "$ENCRYPTION_MODE" == aad ]]; then
  # Already granted on a previous run? Then nobody needs to grant it again.
  PREVIOUS_PRINCIPAL="" GRAPH_ALREADY_GRANTED=""
  capture_optional PREVIOUS_PRINCIPAL "" az deployment sub show --name "$DEPLOYMENT_NAME" --query properties.outputs.identityPrincipalId.value --output tsv
  if [[ -n "$PREVIOUS_PRINCIPAL" ]]; then
    capture_optional GRAPH_ALREADY_GRANTED "" az rest --method GET \
      --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$PREVIOUS_PRINCIPAL/appRoleAssignments" \
      --query "value[?appRoleId=='$GRAPH_PERMISSION_ID'].id | [0]" --output tsv
  fi
  if [[ -n "$GRAPH_ALREADY_GRANTED" ]]; then
    note "Microsoft Graph $GRAPH_PERMISSION: already granted to the app's identity"
  else
    GRAPH_RIGHTS=""
    if [[ "$CALLER_TYPE" == servicePrincipal ]]; then
      capture_optional GRAPH_RIGHTS "$APP_ROLE_ASSIGNMENT_READWRITE_ALL" az rest --method GET \
        --uri "https://graph.microsoft.com/v1.0/servicePrincipals(appId='$CALLER')/appRoleAssignments" \
        --query "value[].appRoleId" --output tsv
      grep -qx "$APP_ROLE_ASSIGNMENT_READWRITE_ALL" <<<"$GRAPH_RIGHTS" || GRAPH_RIGHTS=""
    else
      capture_optional GRAPH_RIGHTS "$PRIVILEGED_ROLE_ADMINISTRATOR_ROLE" az rest --method GET \
        --uri "https://graph.microsoft.com/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole?\$select=roleTemplateId" \
        --query "value[].roleTemplateId" --output tsv
      grep -qxE "$GLOBAL_ADMINISTRATOR_ROLE|$PRIVILEGED_ROLE_ADMINISTRATOR_ROLE" <<<"$GRAPH_RIGHTS" || GRAPH_RIGHTS=""
    fi
    if [[ -z "$GRAPH_RIGHTS" ]]; then
      REFUSALS+=("aad mode: $CALLER may not grant the app's identity the Microsoft Graph application permission $GRAPH_PERMISSION (needs Privileged Role Administrator or Global Administrator; a service principal needs AppRoleAssignment.ReadWrite.All)")
      REMEDIES+=("a Privileged Role Administrator runs this same deployment: infra/deploy.sh ${ORIGINAL_ARGS[*]}")
      REMEDIES+=("or deploy single-pass mode, which needs no Graph permission: infra/deploy.sh --location $LOCATION --parameters $SCRIPT_DIR/single-pass.parameters.json")
    fi
  fi
fi
if ((${#REFUSALS[@]} > 0)); then
  {
    printf 'deploy.sh: error: pre-flight refused; nothing was created.\n'
    printf '  - %s\n' "${REFUSALS[@]}"
    printf 'What to run (by someone who may):\n'
    printf '  %s\n' "${REMEDIES[@]}"
  } >&2
  exit 1
fi
if [[ "$ENCRYPTION_MODE" == aad ]]; then
  note "passed: the caller may create the role assignments and the Graph permission is granted or grantable"
else
  note "passed: the caller may create the role assignments (single-pass mode needs no Graph permission)"
fi

step "3/10 Existing Resource Manager system topics (Azure allows one per subscription)"
EXISTING_TOPICS="{}"
for sub in "${TARGETS[@]}"; do
  TOPICS=""
  capture_optional TOPICS "[]" az eventgrid system-topic list --subscription "$sub" --output json
  # shellcheck disable=SC2016 # JavaScript, not shell: nothing is meant to expand.
  EXISTING_TOPICS="$(node -e '
    const [existing, topics, sub, ownGroup, ownName] = process.argv.slice(1);
    const map = JSON.parse(existing);
    const found = JSON.parse(topics || "[]").find(
      (t) =>
        String(t.topicType ?? t.properties?.topicType).toLowerCase() === "microsoft.resources.subscriptions" &&
        String(t.source ?? t.properties?.source).toLowerCase() === `/subscriptions/${sub}`.toLowerCase(),
    );
    const ours = found && found.resourceGroup.toLowerCase() === ownGroup.toLowerCase() && found.name.toLowerCase() === ownName.toLowerCase();
    if (found && !ours) map[sub] = { resourceGroup: found.resourceGroup, name: found.name };
    process.stdout.write(JSON.stringify(map));
  ' "$EXISTING_TOPICS" "$TOPICS" "$sub" "$VAULT_RG_PARAMETER" "$OWN_RESOURCE_TOPIC")"
done
if [[ "$EXISTING_TOPICS" == "{}" ]]; then
  note "none: main.json creates $OWN_RESOURCE_TOPIC in each target subscription"
else
  note "reusing: $EXISTING_TOPICS (the app's identity is added to each, for dead-lettering)"
fi

step "4/10 Build the code package"
ZIP_FILE="$WORK_DIR/app.zip"
CONFIG_MODULE="$REPO_ROOT/dist/core/config.js"
if [[ -n "$PACKAGE_DIR" ]]; then
  STAGE_DIR="$PACKAGE_DIR"
  # A prebuilt directory may bring its own configuration module to check the settings with.
  [[ -f "$PACKAGE_DIR/dist/core/config.js" ]] && CONFIG_MODULE="$PACKAGE_DIR/dist/core/config.js"
  note "using the prebuilt package in $STAGE_DIR"
else
  STAGE_DIR="$WORK_DIR/app"
  run npm --prefix "$REPO_ROOT" ci --no-audit --no-fund
  run npm --prefix "$REPO_ROOT" run build
  # One esbuild bundle of every function plus host.json and package.json: no node_modules, nothing local or dev-only.
  # host.json speaks the chosen Durable backend.
  run node "$SCRIPT_DIR/package.cjs" "$STAGE_DIR" --durable-backend "$DURABLE_BACKEND"
fi
printf '+ (cd %q && zip -qr %q .)\n' "$STAGE_DIR" "$ZIP_FILE"
if [[ "$DRY_RUN" == false ]]; then
  (cd "$STAGE_DIR" && zip -qr "$ZIP_FILE" .)
  PACKAGE_SHA256="$(package_hash "$STAGE_DIR")"
else
  PACKAGE_SHA256="<package-sha256>"
fi
note "package $ZIP_FILE, sha256 of contents $PACKAGE_SHA256"

step "5/10 Check the app settings with the app's own configuration module"
if [[ "$DRY_RUN" == true || -f "$CONFIG_MODULE" ]]; then
  run node "$SCRIPT_DIR/check-settings.cjs" "$MAIN_TEMPLATE" "$PARAMETERS_FILE" "$CONFIG_MODULE" "$SUBSCRIPTION_ID"
else
  note "skipped: $CONFIG_MODULE is not built (npm run build) to check the settings with"
fi

step "6/10 Validate and deploy the infrastructure (main.json)"
# The hash of the code already running is carried through the template so that re-applying it keeps the tag.
capture_optional PREVIOUS_APP_ID "<function-app-id-of-a-previous-run>" az deployment sub show --name "$DEPLOYMENT_NAME" --query properties.outputs.functionAppResourceId.value --output tsv
DEPLOYED_SHA256=""
if [[ -n "$PREVIOUS_APP_ID" ]]; then
  capture_optional DEPLOYED_SHA256 "" az resource show --ids "$PREVIOUS_APP_ID" --query "tags.\"$PACKAGE_TAG\"" --output tsv
fi
run az deployment sub validate --name "$DEPLOYMENT_NAME" --location "$LOCATION" --template-file "$MAIN_TEMPLATE" \
  --parameters "@$PARAMETERS_FILE" --parameters "deployedPackageSha256=$DEPLOYED_SHA256" \
  "existingResourceEventsTopics=$EXISTING_TOPICS" --output none
run az deployment sub create --name "$DEPLOYMENT_NAME" --location "$LOCATION" --template-file "$MAIN_TEMPLATE" \
  --parameters "@$PARAMETERS_FILE" --parameters "deployedPackageSha256=$DEPLOYED_SHA256" \
  "existingResourceEventsTopics=$EXISTING_TOPICS" --output none
capture OUTPUTS "{}" az deployment sub show --name "$DEPLOYMENT_NAME" --query properties.outputs --output json
load_outputs "$OUTPUTS" appResourceGroupName functionAppName functionAppResourceId identityPrincipalId identityResourceId \
  storageAccountResourceId deadLetterContainerName targetSubscriptionIds vaultResourceGroupName resourceEventsTopicName policyEventsTopicName \
  existingResourceEventsTopics policyDefinitionIds
APP_RG="${OUTPUT[appResourceGroupName]}"
APP_NAME="${OUTPUT[functionAppName]}"
APP_ID="${OUTPUT[functionAppResourceId]}"
PRINCIPAL_ID="${OUTPUT[identityPrincipalId]}"
IDENTITY_ID="${OUTPUT[identityResourceId]}"
STORAGE_ID="${OUTPUT[storageAccountResourceId]}"
DEAD_LETTER_CONTAINER="${OUTPUT[deadLetterContainerName]}"
TARGET_SUBSCRIPTIONS="${OUTPUT[targetSubscriptionIds]}"
VAULT_RG="${OUTPUT[vaultResourceGroupName]}"
RESOURCE_TOPIC="${OUTPUT[resourceEventsTopicName]}"
POLICY_TOPIC="${OUTPUT[policyEventsTopicName]}"
REUSED_TOPICS="${OUTPUT[existingResourceEventsTopics]}"
POLICY_DEFINITION_IDS="${OUTPUT[policyDefinitionIds]}"
note "Function App $APP_NAME in $APP_RG; identity object id $PRINCIPAL_ID"

step "7/10 Microsoft Graph permission $GRAPH_PERMISSION"
if [[ "$ENCRYPTION_MODE" == aad ]]; then
  # ARM templates cannot assign Graph app roles; the app needs this one to create and own one Entra app per VM.
  GRAPH_SP_ID="" ROLE_ID="" EXISTING_GRANT=""
  capture GRAPH_SP_ID "<graph-service-principal-id>" az ad sp show --id "$GRAPH_APP_ID" --query id --output tsv
  capture ROLE_ID "<app-role-id>" az ad sp show --id "$GRAPH_APP_ID" --query "appRoles[?value=='$GRAPH_PERMISSION'].id | [0]" --output tsv
  [[ -n "$ROLE_ID" ]] || die "Microsoft Graph has no app role named $GRAPH_PERMISSION"
  capture EXISTING_GRANT "" az rest --method GET \
    --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$PRINCIPAL_ID/appRoleAssignments" \
    --query "value[?appRoleId=='$ROLE_ID' && resourceId=='$GRAPH_SP_ID'].id | [0]" --output tsv
  if [[ -n "$EXISTING_GRANT" ]]; then
    note "already granted (assignment $EXISTING_GRANT); nothing to do"
  else
    run az rest --method POST \
      --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$PRINCIPAL_ID/appRoleAssignments" \
      --headers "Content-Type=application/json" \
      --body "{\"principalId\":\"$PRINCIPAL_ID\",\"resourceId\":\"$GRAPH_SP_ID\",\"appRoleId\":\"$ROLE_ID\"}" \
      --output none
    if [[ "$DRY_RUN" == false ]]; then
      note "granted"
    fi
  fi
else
  note "skipped: $ENCRYPTION_MODE mode creates no Entra applications, so the app gets no Graph permission"
fi

step "8/10 Deploy the code (zip deploy)"
if [[ "$DRY_RUN" == false && "$DEPLOYED_SHA256" == "$PACKAGE_SHA256" ]]; then
  note "unchanged: $APP_NAME already runs package $PACKAGE_SHA256; skipping the zip deploy"
else
  if [[ "$DRY_RUN" == true ]]; then
    note "(the zip deploy is skipped at run time when the tag $PACKAGE_TAG already equals the package hash)"
  fi
  # The platform fetches the package with the identity's new Storage Blob Data Owner role (Flex Consumption).
  run_retrying_authorization az functionapp deployment source config-zip --resource-group "$APP_RG" --name "$APP_NAME" \
    --src "$ZIP_FILE" --output none
  run az resource tag --ids "$APP_ID" --is-incremental --tags "$PACKAGE_TAG=$PACKAGE_SHA256" --output none
fi

step "9/10 Wait until the functions are indexed"
show_cmd az functionapp function list --resource-group "$APP_RG" --name "$APP_NAME" --query "[].name" --output tsv
note "(repeated every ${FUNCTION_POLL_SECONDS}s until ${REQUIRED_FUNCTIONS[*]} are listed, for up to ${FUNCTION_WAIT_SECONDS}s)"
if [[ "$DRY_RUN" == false ]]; then
  deadline=$((SECONDS + FUNCTION_WAIT_SECONDS))
  while :; do
    listed="$(az functionapp function list --resource-group "$APP_RG" --name "$APP_NAME" --query "[].name" --output tsv 2>/dev/null || true)"
    missing=()
    for fn in "${REQUIRED_FUNCTIONS[@]}"; do
      # Names come back as "<app>/<function>".
      grep -qxE "(.*/)?$fn" <<<"$listed" || missing+=("$fn")
    done
    ((${#missing[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      die "functions not indexed after ${FUNCTION_WAIT_SECONDS}s: ${missing[*]}. Check the app's logs in Application Insights, then re-run this script."
    fi
    sleep "$FUNCTION_POLL_SECONDS"
  done
  note "indexed: ${REQUIRED_FUNCTIONS[*]}"
fi

step "10/10 Event Grid subscriptions (event-subscriptions.json)"
# A reused topic dead-letters with the app's identity too: add it to the topic's identities, keeping the others.
# shellcheck disable=SC2016 # JavaScript, not shell: nothing is meant to expand.
while IFS=$'\t' read -r topic_id; do
  [[ -n "$topic_id" ]] || continue
  TOPIC_IDENTITY=""
  capture TOPIC_IDENTITY "{}" az eventgrid system-topic show --ids "$topic_id" --query identity --output json
  # shellcheck disable=SC2016 # JavaScript, not shell: nothing is meant to expand.
  IDENTITY_BODY="$(node -e '
    const [current, ours] = process.argv.slice(1);
    const identity = JSON.parse(current || "null") ?? {};
    const assigned = Object.keys(identity.userAssignedIdentities ?? {});
    if (assigned.some((id) => id.toLowerCase() === ours.toLowerCase())) process.exit(0);
    const system = /SystemAssigned/i.test(identity.type ?? "");
    const userAssignedIdentities = Object.fromEntries([...assigned, ours].map((id) => [id, {}]));
    process.stdout.write(JSON.stringify({ identity: { type: system ? "SystemAssigned,UserAssigned" : "UserAssigned", userAssignedIdentities } }));
  ' "$TOPIC_IDENTITY" "$IDENTITY_ID")"
  if [[ -n "$IDENTITY_BODY" ]]; then
    run az rest --method PATCH --uri "https://management.azure.com$topic_id?api-version=2022-06-15" \
      --headers "Content-Type=application/json" --body "$IDENTITY_BODY" --output none
  else
    note "$topic_id already has the app's identity"
  fi
done < <(node -e '
  const map = JSON.parse(process.argv[1].startsWith("<") ? "{}" : process.argv[1]);
  for (const [sub, t] of Object.entries(map))
    console.log(`/subscriptions/${sub}/resourceGroups/${t.resourceGroup}/providers/Microsoft.EventGrid/systemTopics/${t.name}`);
' "$REUSED_TOPICS")
# Dead-lettering with the identity is its first use of Storage Blob Data Contributor: retried while it propagates.
run_retrying_authorization az deployment sub create --name "$DEPLOYMENT_NAME-events" --location "$LOCATION" --template-file "$EVENTS_TEMPLATE" \
  --parameters "functionAppResourceId=$APP_ID" "targetSubscriptionIds=$TARGET_SUBSCRIPTIONS" \
  "vaultResourceGroupName=$VAULT_RG" "resourceEventsTopicName=$RESOURCE_TOPIC" "policyEventsTopicName=$POLICY_TOPIC" \
  "identityResourceId=$IDENTITY_ID" "storageAccountResourceId=$STORAGE_ID" "deadLetterContainerName=$DEAD_LETTER_CONTAINER" \
  "existingResourceEventsTopics=$REUSED_TOPICS" "policyDefinitionIds=$POLICY_DEFINITION_IDS" --output none

step "Done"
if [[ "$DRY_RUN" == true ]]; then
  note "dry run: nothing was changed"
else
  note "infrastructure: deployment $DEPLOYMENT_NAME; code: $APP_NAME ($PACKAGE_SHA256); events: deployment $DEPLOYMENT_NAME-events"
fi
cat <<CHECK

How to check:
  az functionapp function list --resource-group $APP_RG --name $APP_NAME --query "[].name" --output tsv
  az eventgrid system-topic event-subscription list --resource-group $VAULT_RG --system-topic-name $RESOURCE_TOPIC --output table
  az eventgrid system-topic event-subscription list --resource-group $VAULT_RG --system-topic-name $POLICY_TOPIC --output table
  az role assignment list --assignee $PRINCIPAL_ID --all --output table
  az deployment sub show --name $DEPLOYMENT_NAME --query properties.provisioningState --output tsv
CHECK
