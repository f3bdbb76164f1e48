# bash completion for artifactctl(1)                        -*- shell-script -*-
#
# Install: copy to /usr/share/bash-completion/completions/artifactctl (or
# /etc/bash_completion.d/), or source it from ~/.bashrc.  Needs bash 4 and
# nothing else (the bash-completion package is not required).
#
# Completes the commands, the options of each command (from its --help),
# file and directory arguments, the host triplet after --platform, and the
# artifact names of the Artifacts.toml given before a NAME argument,
# directories for the MOUNTPOINT of status, metrics, reload, wipe, evict and
# prefetch, then the names the mount lists for evict and prefetch, and a
# mount point or an Artifacts.toml for probe.
# tests/integration/t0800-contrib.sh checks that the commands and options
# here are exactly those that "artifactctl --help" and "artifactctl COMMAND
# --help" list: update both together.

_artifactctl_commands="hash platform resolve fetch ls verify sync pack bind unbind add-mirror publish index seek-index gc root status metrics reload evict wipe prefetch probe"

# _artifactctl_opts COMMAND [SUBCOMMAND]: the options of COMMAND.
_artifactctl_opts() {
	case $1 in
	hash) echo "--keep-empty --legacy-symlinks -h --help" ;;
	platform) echo "--tags -h --help" ;;
	resolve) echo "-p --platform -t --tag -j --json -h --help" ;;
	fetch)
		echo "-s --store -p --platform -t --tag -l --include-lazy -j --jobs" \
			"-P --pkg-server --ignore-hashes --ca-file --connect-timeout" \
			"--low-speed-time --timeout --max-unpacked --sources-from --proxy --proxy-shard --seek-index --sync" \
			"-v --verbose -h --help"
		;;
	ls) echo "--store --json -h --help" ;;
	verify) echo "--store -h --help" ;;
	sync) echo "--store -h --help" ;;
	pack) echo "-o --output -l --level -j --jobs --json -h --help" ;;
	bind) echo "-u --url --sha256 --size -p --platform -l --lazy -f --force -h --help" ;;
	unbind) echo "-p --platform -h --help" ;;
	add-mirror) echo "-p --platform --sha256 -h --help" ;;
	publish)
		echo "-t --to -u --public-url -n --name -e --each -j --jobs -m --meta --meta-file" \
			"-T --toml -p --platform --lazy --multi-platform --single-platform" \
			"-N --dry-run -f --force --json --endpoint-url --endpoint --region --profile" \
			"--credentials --part-size -l --level --pack-jobs --no-seek-index -h --help" \
			"--token-file --release-name --target --draft --prerelease"
		;;
	seek-index) echo "-o --output --span --from-store --store -h --help" ;;
	index)
		echo "-o --output --latest -u --public-url --endpoint-url --endpoint --region" \
			"--profile --credentials -h --help"
		;;
	gc)
		echo "-s --store -n --dry-run --grace --max-freed --depot --json -v --verbose" \
			"-h --help"
		;;
	status | reload) echo "--socket --store --json -h --help" ;;
	metrics) echo "--socket --store -h --help" ;;
	evict | wipe) echo "--wait --socket --store --json -h --help" ;;
	prefetch) echo "--all --wait --socket --store --json -h --help" ;;
	probe) echo "--timeout --pkg-server --socket --store --json -h --help" ;;
	root)
		case $2 in
		ls) echo "-s --store --json -h --help" ;;
		add | rm) echo "-s --store -h --help" ;;
		esac
		;;
	esac
}

# _artifactctl_takes_arg COMMAND OPTION: whether OPTION takes a value.
_artifactctl_takes_arg() {
	case $1:$2 in
	pack:-l | publish:-l) return 0 ;;	# --level
	fetch:-l | bind:-l) return 1 ;;		# --include-lazy, --lazy
	resolve:-j) return 1 ;;			# --json
	gc:-n) return 1 ;;			# --dry-run
	esac
	case $2 in
	-s | --store | -p | --platform | -t | --tag | -j | --jobs | -P | --pkg-server | \
		--ca-file | --connect-timeout | --low-speed-time | --timeout | --sources-from | \
		-o | --output | --level | -u | --url | --sha256 | --size | --to | --public-url | \
		-n | --name | -T | --toml | --endpoint | --region | --profile | --credentials | \
		--part-size | --grace | --max-freed | --max-unpacked | --depot | --socket | \
		--endpoint-url | -e | --each | -m | --meta | --meta-file | --proxy | --pack-jobs)
		return 0
		;;
	--span | --from-store) # seek-index
		return 0
		;;
	--token-file | --release-name | --target) # publish to GitHub
		return 0
		;;
	esac
	return 1
}

# _artifactctl_names FILE: the artifact names an Artifacts.toml defines
# (FILE may be a directory holding JuliaArtifacts.toml or Artifacts.toml).
_artifactctl_names() {
	local f=${1/#\~/$HOME}

	if [[ -d $f ]]; then
		if [[ -f $f/JuliaArtifacts.toml ]]; then
			f=$f/JuliaArtifacts.toml
		else
			f=$f/Artifacts.toml
		fi
	fi
	[[ -r $f ]] || return 0
	sed -n 's/^[[:space:]]*\[\{1,2\}[[:space:]]*"\{0,1\}\([^]".[:space:]]*\)"\{0,1\}[[:space:]]*\]\{1,2\}[[:space:]]*\(#.*\)\{0,1\}$/\1/p' \
		"$f" 2>/dev/null | sort -u
}

_artifactctl_files() {
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -f -- "$1")
}

_artifactctl_dirs() {
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -d -- "$1")
}

# _artifactctl_value COMMAND OPTION CUR: complete the value of OPTION.
_artifactctl_value() {
	case $2 in
	-s | --store | --depot) _artifactctl_dirs "$3" ;;
	-p | --platform)
		mapfile -t COMPREPLY < <(compgen -W "$(artifactctl platform 2>/dev/null)" -- "$3")
		;;
	--ca-file | --sources-from | --credentials | -T | --toml | --meta-file | \
		--token-file)
		_artifactctl_files "$3"
		;;
	-e | --each) _artifactctl_dirs "$3" ;;
	-o | --output)
		[[ $1 == pack || $1 == index || $1 == seek-index ]] && _artifactctl_files "$3"
		;;
	esac
}

_artifactctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= sub= opt= w
	local i n=0 first= start=2
	local -a args=()

	COMPREPLY=()
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	if ((COMP_CWORD == 1)); then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-h --help -V --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$_artifactctl_commands" -- "$cur")
		fi
		return 0
	fi
	cmd=${COMP_WORDS[1]}
	if [[ $cmd == root ]]; then
		if ((COMP_CWORD == 2)); then
			mapfile -t COMPREPLY < <(compgen -W "add rm ls" -- "$cur")
			return 0
		fi
		sub=${COMP_WORDS[2]}
		start=3
	fi

	# The value of an option: "--opt VALUE", "--opt=VALUE" (split at "="
	# by COMP_WORDBREAKS, or not).
	if [[ $cur == = ]]; then
		opt=$prev
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
		opt=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $cur == --*=* ]]; then
		_artifactctl_value "$cmd" "${cur%%=*}" "${cur#*=}"
		COMPREPLY=("${COMPREPLY[@]/#/${cur%%=*}=}")
		return 0
	elif [[ $prev == -* ]] && _artifactctl_takes_arg "$cmd" "$prev"; then
		opt=$prev
	fi
	if [[ -n $opt ]]; then
		_artifactctl_value "$cmd" "$opt" "$cur"
		return 0
	fi

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_artifactctl_opts "$cmd" "$sub")" -- "$cur")
		return 0
	fi

	# Positional arguments before this one.
	for ((i = start; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == = ]]; then
			((i++))
		elif [[ $w == -* ]]; then
			[[ $w != *=* && ${COMP_WORDS[i + 1]:-} != = ]] &&
				_artifactctl_takes_arg "$cmd" "$w" && ((i++))
		else
			args+=("$w")
			((n++))
		fi
	done
	first=${args[0]:-}
	case $cmd in
	hash | pack | publish | index | seek-index | root) _artifactctl_files "$cur" ;;
	resolve | unbind | add-mirror | bind)
		# FILE NAME ...: the names of FILE.
		if ((n == 0)); then
			_artifactctl_files "$cur"
		elif ((n == 1)); then
			mapfile -t COMPREPLY < <(compgen -W "$(_artifactctl_names "$first")" -- "$cur")
		fi
		;;
	status | metrics | reload | wipe)
		# MOUNTPOINT: a directory.
		((n == 0)) && mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		;;
	evict | prefetch)
		# [MOUNTPOINT] NAME...: a directory first, then what the mount lists.
		if ((n == 0)) && [[ $cur == */* || -z $cur ]]; then
			_artifactctl_dirs "$cur"
		elif [[ -d $first ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$(ls "$first" 2>/dev/null)" -- "$cur")
		fi
		;;
	probe)
		# MOUNTPOINT or an Artifacts.toml.
		((n == 0)) && _artifactctl_files "$cur"
		;;
	fetch)
		if ((n == 0)); then
			_artifactctl_files "$cur"
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_artifactctl_names "$first")" -- "$cur")
		fi
		;;
	esac
	return 0
}

complete -F _artifactctl artifactctl
