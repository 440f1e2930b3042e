namespace KubeletPS.Core.Runtime;

/// <summary>
/// Which standard streams a CRI Exec or Attach session carries, and whether it runs in a TTY
/// (CRI: one of stdin, stdout and stderr must be set; with a TTY stderr must not be, as its
/// output goes to stdout).
/// </summary>
public sealed record StreamingOptions(bool Stdin, bool Stdout, bool Stderr, bool Tty);
