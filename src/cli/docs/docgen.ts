// Shell completion (bash, zsh) and the man page, generated from commander's command tree:
// every command, argument and option the CLI defines appears in them, and nothing is
// written per command. What an argument or an option's value completes to follows from
// its name (the one convention, VALUE_KINDS below) or from its commander choices.
import type { Argument, Command, Option } from "commander";
import { EXIT_TABLE } from "../../core/errors.ts";

/** what a value completes to */
export type ValueKind =
  | "none" // free text (an address, a port, a new name)
  | "network" // libvirt networks: virsh net-list --all --name
  | "bridge" // provider bridges from the config, and the host's bridges
  | "domain" // libvirt guests: virsh list --all --name
  | "file"
  | { words: string[] };

/**
 * The convention: an argument or option value named like this completes to that kind.
 * `<a|b|c>` completes to its plain-word alternatives (`<addr[/prefix]|auto>`: auto), and
 * commander choices to themselves.
 */
const VALUE_KINDS: Record<string, ValueKind> = {
  net: "network",
  network: "network",
  networks: "network",
  bridge: "bridge",
  hostname: "domain",
  file: "file",
  proto: { words: ["tcp", "udp"] },
};

export interface OptionModel {
  /** -q, --quiet */
  flags: string;
  names: string[];
  /** the value's name (`cidr` of `--subnet <cidr>`), when the option takes one */
  value?: string;
  kind: ValueKind;
  description: string;
  mandatory: boolean;
  defaultValue?: string;
}

export interface ArgumentModel {
  name: string;
  required: boolean;
  variadic: boolean;
  kind: ValueKind;
}

export interface CommandModel {
  /** the words after `vnat` ([] for vnat itself) */
  path: string[];
  name: string;
  description: string;
  /** `[options] <net> <proto> <port> <target>` */
  usage: string;
  args: ArgumentModel[];
  options: OptionModel[];
  commands: CommandModel[];
}

function kindOf(name: string | undefined, choices: readonly string[] | undefined): ValueKind {
  if (choices?.length) return { words: [...choices] };
  if (name === undefined) return "none";
  const known = VALUE_KINDS[name];
  if (known) return known;
  if (name.includes("|")) {
    const words = name.split("|").filter((w) => /^[a-z][a-z0-9-]*$/.test(w));
    if (words.length) return { words };
  }
  return "none";
}

function optionModel(o: Option): OptionModel {
  const m = /<([^>]+)>|\[(.+)\]/.exec(o.flags);
  const value = m?.[1] ?? m?.[2];
  const d: unknown = o.defaultValue;
  return {
    flags: o.flags.replace(/\s*[<[].*$/, ""),
    names: [o.short, o.long].filter((n): n is string => n !== undefined),
    ...(value !== undefined ? { value } : {}),
    kind: value === undefined ? "none" : kindOf(value, o.argChoices),
    description: o.description,
    mandatory: o.mandatory,
    ...(typeof d === "string" && d !== "" ? { defaultValue: d } : {}),
  };
}

function argumentModel(a: Argument, cmd: Command, parent: Command | null): ArgumentModel {
  // `vnat help [command]` completes to its siblings
  const kind: ValueKind =
    cmd.name() === "help" && a.name() === "command" && parent
      ? {
          words: parent
            .createHelp()
            .visibleCommands(parent)
            .map((c) => c.name())
            .filter((n) => n !== "help"),
        }
      : kindOf(a.name(), a.argChoices);
  return { name: a.name(), required: a.required, variadic: a.variadic, kind };
}

/** The visible command tree (commander's own view: hidden commands and options left out, help included). */
export function commandModel(cmd: Command, path: string[] = [], parent: Command | null = cmd.parent): CommandModel {
  const help = cmd.createHelp();
  return {
    path,
    name: path.length ? path.join(" ") : cmd.name(),
    description: cmd.description(),
    usage: cmd.usage(),
    // commander's implicit help command has no parent of its own
    args: cmd.registeredArguments.map((a) => argumentModel(a, cmd, parent)),
    options: help.visibleOptions(cmd).map(optionModel),
    commands: help.visibleCommands(cmd).map((c) => commandModel(c, [...path, c.name()], cmd)),
  };
}

export function allCommands(m: CommandModel): CommandModel[] {
  return [m, ...m.commands.flatMap(allCommands)];
}

// --- completion ------------------------------------------------------------------------

const kindWord = (k: ValueKind): string => (typeof k === "string" ? k : `w:${k.words.join(",")}`);

/**
 * One `case` over the command path, shared by both shells: the subcommands, the options
 * without a value, the options with one (OPTION:KIND) and the positional arguments' kinds
 * (the last one ending in `*` when it repeats).
 */
function specFunction(root: CommandModel): string {
  const q = (s: string): string => `'${s}'`;
  const branches = allCommands(root).map((c) => {
    const flags = c.options.filter((o) => o.value === undefined).flatMap((o) => o.names);
    const vals = c.options
      .filter((o) => o.value !== undefined)
      .flatMap((o) => o.names.map((n) => `${n}:${kindWord(o.kind)}`));
    const args = c.args.map((a) => kindWord(a.kind) + (a.variadic ? "*" : ""));
    return [
      `    ${q(c.path.join(" "))})`,
      `      cmds=${q(c.commands.map((s) => s.path.at(-1)).join(" "))}`,
      `      flags=${q(flags.join(" "))}`,
      `      vals=${q(vals.join(" "))}`,
      `      args=${q(args.join(" "))} ;;`,
    ].join("\n");
  });
  return [
    "_vnat_spec() {",
    '  case "$1" in',
    ...branches,
    "    *) cmds='' flags='' vals='' args='' ;;",
    "  esac",
    "}",
  ].join("\n");
}

const HEADER = (shell: string): string =>
  [
    `# ${shell} completion for vnat, generated from its command definitions (vnat completion ${shell}).`,
    "# Networks come from virsh net-list (all of libvirt's: telling vnat's apart costs a virsh",
    "# call per network), bridges from vnat's config and the host, guests from virsh list.",
  ].join("\n");

/** shell code printing KIND's candidates one per line (both shells run it) */
const VALUES = [
  "_vnat_candidates() {",
  '  case "$1" in',
  "    network) virsh -q -c qemu:///system net-list --all --name 2>/dev/null ;;",
  "    domain) virsh -q -c qemu:///system list --all --name 2>/dev/null ;;",
  "    bridge) {",
  '      grep -o \'"bridge"[[:space:]]*:[[:space:]]*"[^"]*"\' "${VNAT_CONFIG:-/etc/vnat/config.json}" 2>/dev/null | sed \'s/.*"\\([^"]*\\)"$/\\1/\'',
  '      for b in /sys/class/net/*/bridge; do [ -d "$b" ] && b=${b%/bridge} && printf \'%s\\n\' "${b##*/}"; done; } | sort -u ;;',
  "    w:*) printf '%s\\n' ${1#w:} | tr ',' '\\n' ;;",
  "  esac",
  "}",
].join("\n");

/**
 * Walks the words before the cursor: CPATH (the command path), NPOS (positional arguments
 * so far) and EXPECT (the option whose value is being typed). The same text runs in bash
 * and zsh; WORDS and CWORD are set by each shell's driver (0-based, vnat is WORDS[0]).
 */
const WALK = [
  "_vnat_walk() {",
  "  local i w o",
  "  cpath='' npos=0 expect=''",
  "  _vnat_spec ''",
  "  for ((i = 1; i < CWORD; i++)); do",
  "    w=${WORDS[i]}",
  '    [ "$w" = "=" ] && continue',
  '    if [ -n "$expect" ]; then expect=""; continue; fi',
  '    case "$w" in',
  "      --*=*) continue ;;",
  "      -*)",
  '        for o in $vals; do [ "${o%%:*}" = "$w" ] && expect=$w; done',
  "        continue ;;",
  "    esac",
  '    case " $cmds " in',
  '      *" $w "*) if [ "$npos" -eq 0 ]; then cpath=${cpath:+$cpath }$w; _vnat_spec "$cpath"; continue; fi ;;',
  "    esac",
  "    npos=$((npos + 1))",
  "  done",
  "}",
  "",
  "# the kind of what the cursor is on: an option's value, or the next positional argument",
  "_vnat_kind() {",
  "  local o k=none n=0",
  '  if [ -n "$expect" ]; then',
  '    for o in $vals; do [ "${o%%:*}" = "$expect" ] && k=${o#*:}; done',
  '    printf "%s" "$k"; return',
  "  fi",
  "  for o in $args; do",
  "    k=${o%\\*}",
  '    [ "$n" -eq "$npos" ] && { printf "%s" "$k"; return; }',
  '    case "$o" in *\\*) printf "%s" "$k"; return ;; esac',
  "    n=$((n + 1))",
  "  done",
  '  printf "none"',
  "}",
].join("\n");

export function bashCompletion(program: Command): string {
  const root = commandModel(program);
  return [
    HEADER("bash"),
    specFunction(root),
    VALUES,
    WALK,
    "",
    "_vnat() {",
    "  local cur=${COMP_WORDS[COMP_CWORD]} cpath npos expect cmds flags vals args kind",
    '  local -a WORDS=("${COMP_WORDS[@]}")',
    "  local CWORD=$COMP_CWORD",
    '  [ "$cur" = "=" ] && cur=""',
    "  _vnat_walk",
    '  if [ -z "$expect" ] && [[ $cur == -* ]]; then',
    "    local o all=$flags",
    '    for o in $vals; do all="$all ${o%%:*}"; done',
    '    COMPREPLY=($(compgen -W "$all" -- "$cur"))',
    "    return",
    "  fi",
    '  if [ -z "$expect" ] && [ -n "$cmds" ] && [ "$npos" -eq 0 ]; then',
    '    COMPREPLY=($(compgen -W "$cmds" -- "$cur"))',
    "    return",
    "  fi",
    "  kind=$(_vnat_kind)",
    '  case "$kind" in',
    '    file) COMPREPLY=($(compgen -f -- "$cur")) ;;',
    "    none) COMPREPLY=() ;;",
    "    *)",
    "      # not compgen -W: it would expand $(…) in a network's or a guest's name",
    "      local line q",
    "      COMPREPLY=()",
    "      while IFS= read -r line; do",
    '        [[ -n $line && $line == "$cur"* ]] || continue',
    "        printf -v q '%q' \"$line\"",
    '        COMPREPLY+=("$q")',
    '      done < <(_vnat_candidates "$kind") ;;',
    "  esac",
    "}",
    "complete -F _vnat vnat",
    "",
  ].join("\n");
}

export function zshCompletion(program: Command): string {
  const root = commandModel(program);
  return [
    "#compdef vnat",
    HEADER("zsh"),
    '# Install: vnat completion zsh > "${fpath[1]}/_vnat" (or source it after compinit).',
    specFunction(root),
    VALUES,
    WALK.replace("_vnat_walk() {\n", "_vnat_walk() {\n  setopt localoptions shwordsplit ksharrays\n").replace(
      "_vnat_kind() {\n",
      "_vnat_kind() {\n  setopt localoptions shwordsplit\n",
    ),
    "",
    "_vnat() {",
    "  local cpath npos expect cmds flags vals args kind o",
    "  local -a WORDS items",
    '  WORDS=("${words[@]}")',
    "  local CWORD=$((CURRENT - 1))",
    "  _vnat_walk",
    "  if [[ -z $expect && $PREFIX == -* ]]; then",
    "    items=(${=flags})",
    '    for o in ${=vals}; do items+=("${o%%:*}"); done',
    "    compadd -a items",
    "    return",
    "  fi",
    "  if [[ -z $expect && -n $cmds && $npos -eq 0 ]]; then",
    "    items=(${=cmds})",
    "    compadd -a items",
    "    return",
    "  fi",
    "  kind=$(_vnat_kind)",
    '  case "$kind" in',
    "    file) _files ;;",
    "    none) return 1 ;;",
    '    *) items=(${(f)"$(_vnat_candidates "$kind")"}); compadd -a items ;;',
    "  esac",
    "}",
    "",
    'if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _vnat "$@"; else compdef _vnat vnat; fi',
    "",
  ].join("\n");
}

// --- the man page --------------------------------------------------------------------------

/** roff text: backslashes, minus signs, and a leading dot or quote made literal */
export function roffEscape(text: string): string {
  return text.replace(/\\/g, "\\e").replace(/-/g, "\\-").replace(/^[.']/gm, "\\&$&");
}

/** `[options] <net> [name]` as roff: argument names in italics */
function roffUsage(usage: string): string {
  return roffEscape(usage)
    .replace(/<([^>]+)>/g, "\\fI$1\\fR")
    .replace(/\[([a-z][^\]]*?)(\.\.\.)?\]/g, (m, n: string, dots?: string) =>
      n === "options" ? m : `[\\fI${n}\\fR${dots ?? ""}]`,
    );
}

function roffOption(o: OptionModel): string[] {
  const flags = o.flags
    .split(/,\s*/)
    .map((f) => `\\fB${roffEscape(f)}\\fR`)
    .join(", ");
  const value = o.value === undefined ? "" : ` \\fI${roffEscape(o.value)}\\fR`;
  const notes = [
    o.mandatory ? "required" : "",
    o.defaultValue !== undefined ? `default: ${o.defaultValue}` : "",
  ].filter(Boolean);
  return [".TP", flags + value, roffEscape(o.description + (notes.length ? ` (${notes.join("; ")})` : ""))];
}

export interface ManPageText {
  /** paragraphs under DESCRIPTION */
  description: string[];
  /** [path, what] under FILES */
  files: Array<[string, string]>;
  /** [variable, what] under ENVIRONMENT */
  environment: Array<[string, string]>;
  seeAlso: string[];
}

export function manPage(program: Command, version: string, text: ManPageText): string {
  const root = commandModel(program);
  const out: string[] = [
    `.\\" generated from vnat's command definitions (src/cli/docs/docgen.ts) by scripts/build.mjs; do not edit`,
    `.TH VNAT 1 "" "vnat ${version}" "User Commands"`,
    ".SH NAME",
    `vnat \\- ${roffEscape(root.description.charAt(0).toLowerCase() + root.description.slice(1))}`,
    ".SH SYNOPSIS",
    ".B vnat",
    ".I command",
    ".RI [ options ]",
    ".SH DESCRIPTION",
    ...text.description.flatMap((p, i) => (i ? [".PP", roffEscape(p)] : [roffEscape(p)])),
    ".SH OPTIONS",
    ...root.options.flatMap(roffOption),
    ".SH COMMANDS",
  ];
  for (const c of allCommands(root).slice(1)) {
    out.push(`.SS "vnat ${roffEscape(c.name)}"`);
    if (c.commands.length === 0 || c.args.length) out.push(`.B vnat ${roffEscape(c.name)}`, roffUsage(c.usage), ".br");
    out.push(roffEscape(c.description));
    if (c.commands.length)
      out.push(".PP", `Commands: ${c.commands.map((s) => `\\fB${roffEscape(s.path.at(-1)!)}\\fR`).join(", ")}.`);
    const opts = c.options.filter((o) => !o.names.includes("--help"));
    if (opts.length) out.push(".RS", ...opts.flatMap(roffOption), ".RE");
  }
  out.push(".SH FILES");
  for (const [p, what] of text.files) out.push(".TP", `.I ${roffEscape(p)}`, roffEscape(what));
  out.push(".SH ENVIRONMENT");
  for (const [v, what] of text.environment) out.push(".TP", `.B ${roffEscape(v)}`, roffEscape(what));
  out.push(".SH EXIT STATUS", "One line on standard error names what failed; the code says what kind of failure:");
  for (const r of EXIT_TABLE) out.push(".TP", `.B ${r.code}`, roffEscape(`${r.kind}: ${r.meaning.replace(/`/g, "")}`));
  out.push(
    ".SH SEE ALSO",
    ...text.seeAlso.map((s, i) => `.BR ${s.replace(/\((\d)\)$/, " ($1)")}${i < text.seeAlso.length - 1 ? "," : ""}`),
  );
  return out.join("\n") + "\n";
}
