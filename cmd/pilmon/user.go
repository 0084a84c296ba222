package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"pilmon/accounts"
)

// runUser manages dashboard accounts: add NAME --role ROLE | passwd NAME | disable NAME |
// enable NAME | token NAME [--label L] [--days N] | list. Passwords are read from stdin (one
// line), never from the command line. token issues a token in any user's name: whoever holds the
// data dir and Redis can do anything anyway, while the dashboard lets users mint only their own.
func runUser(ctx context.Context, env *cliEnv, args []string) error {
	const usage = "add NAME --role admin|prosecutor|analyst|viewer | passwd NAME | disable NAME | enable NAME | token NAME [--label L] [--days N] | list"
	if len(args) == 0 {
		return usageErr("用法 / usage: pilmon user %s", usage)
	}
	sub, args := args[0], args[1:]
	// Each subcommand has its own flags: --role belongs to add, --label to token.
	var cfg config
	fs := newFlagSet(env, "user "+sub, usage)
	cfg.register(fs)
	role, label, days := new(string), new(string), new(int)
	switch sub {
	case "add":
		fs.StringVar(role, "role", "", "角色 / role: admin|prosecutor|analyst|viewer")
	case "token":
		fs.StringVar(label, "label", "", "令牌用途 / token label")
		fs.IntVar(days, "days", int(accounts.DefaultTokenTTL.Hours()/24), "令牌有效天数 / days the token is valid")
	case "passwd", "disable", "enable", "list":
	default:
		return usageErr("pilmon user: 未知子命令 / unknown subcommand %q; usage: %s", sub, usage)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	cfg.apply(env)
	needName := sub != "list"
	if needName && len(pos) != 1 {
		return usageErr("pilmon user %s: 需要一个用户名 / one user name expected", sub)
	}
	var name string
	if needName {
		name = pos[0]
		if err := accounts.CheckUserName(name); err != nil {
			return exitErr{exitUsage, err}
		}
	}
	if sub == "add" && !accounts.Role(*role).Valid() {
		return usageErr("--role: %q; want one of %v", *role, accounts.Roles)
	}
	if sub == "token" && (*days < 1 || time.Duration(*days)*24*time.Hour > accounts.MaxTokenTTL) {
		return usageErr("--days: 1-%d", int(accounts.MaxTokenTTL.Hours()/24))
	}
	var pw string
	if sub == "add" || sub == "passwd" {
		pw, err = readPassword(env.stdin)
		if err != nil {
			return err
		}
		if err := accounts.CheckPassword(name, pw); err != nil {
			return exitErr{exitUsage, err}
		}
	}
	st, err := openState(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer st.close()
	acc := accounts.New(st.store)
	switch sub {
	case "add":
		if err := acc.Add(ctx, name, accounts.Role(*role), pw); err != nil {
			if errors.Is(err, accounts.ErrUserExists) {
				return fmt.Errorf("%s: %w", name, err)
			}
			return err
		}
		fmt.Fprintf(env.stdout, "已创建用户 / created user %s (%s)\n", name, *role)
	case "passwd":
		if err := acc.SetPassword(ctx, name, pw); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "已修改密码并注销其所有会话 / password changed, sessions of %s ended\n", name)
	case "disable", "enable":
		if err := acc.SetDisabled(ctx, name, sub == "disable"); err != nil {
			return err
		}
		if sub == "disable" {
			fmt.Fprintf(env.stdout, "已停用 / disabled %s (sessions and API tokens ended)\n", name)
		} else {
			fmt.Fprintf(env.stdout, "已启用 / enabled %s\n", name)
		}
	case "token":
		tok, t, err := acc.NewToken(ctx, name, *label, time.Duration(*days)*24*time.Hour)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, tok)
		fmt.Fprintf(env.stderr, "令牌 / token %s of %s, 到期 / expires %s\n", t.Short(), name, t.Expires.Format(time.RFC3339))
	case "list":
		us, err := acc.List(ctx)
		if err != nil {
			return err
		}
		for _, u := range us {
			state := "active"
			if u.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(env.stdout, "%s\t%s\t%s\n", u.Name, u.Role, state)
		}
	}
	return nil
}

// readPassword reads one line from stdin (a terminal, a pipe or a file).
func readPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("密码从标准输入读取 / the password is read from stdin")
	}
	line, err := bufio.NewReader(io.LimitReader(r, accounts.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", exitErr{exitUsage, errors.New("标准输入没有密码 / no password on stdin")}
	}
	return line, nil
}
