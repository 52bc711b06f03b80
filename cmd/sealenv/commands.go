package main

import "github.com/urfave/cli/v2"

// commands lists every subcommand; each lives in its own file.
func commands(e *env) []*cli.Command {
	return []*cli.Command{
		keygenCommand(e),
		sealCommand(e),
		setCommand(e),
		unsetCommand(e),
		showCommand(e),
		diffCommand(e),
		revealCommand(e),
		editCommand(e),
		adoptCommand(e),
		rotateCommand(e),
		pinCommand(e),
		rekeyCommand(e),
		signCommand(e),
		signersCommand(e),
		auditCommand(e),
		injectCommand(e),
		initCommand(e),
		checkCommand(e),
		wrapCommand(e),
		buildCommand(e),
		verifyCommand(e),
		scanCommand(e),
		hookCommand(e),
		versionCommand(e),
		completionCommand(e),
		helpCommand(e),
	}
}
