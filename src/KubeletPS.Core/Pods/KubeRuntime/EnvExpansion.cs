using System.Text;
using KubeletPS.Core.Pods.Volumes;

namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>
/// Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion): $(NAME) becomes the value
/// when NAME is defined and stays as written otherwise; $$ escapes a dollar.
/// Each variable may reference the expanded ones before it, so a pod's author can double a value with every
/// variable (B=$(A)$(A), C=$(B)$(B), …: 2^n times the first); an expansion that grows past
/// <see cref="MaxExpandedLength"/> stops there with a <see cref="ContainerConfigException"/> (CreateContainerConfigError).
/// </summary>
public static class EnvExpansion
{
    /// <summary>
    /// The kernel's MAX_ARG_STRLEN (32 pages): execve(2) refuses any argument or NAME=value string longer, so no
    /// container could start with a longer expanded value anyway.
    /// </summary>
    public const int MaxExpandedLength = 32 * 4096;

    /// <param name="what">What the input is, for the message when it expands too far (e.g. <c>env "PATH"</c>).</param>
    public static string Expand(string input, Func<string, string?> lookup, string what = "the value")
    {
        if (!input.Contains('$')) return input;
        var result = new StringBuilder(input.Length);
        for (var i = 0; i < input.Length; i++)
        {
            var c = input[i];
            if (c != '$' || i + 1 >= input.Length)
            {
                result.Append(c);
                continue;
            }
            var next = input[i + 1];
            if (next == '$')
            {
                result.Append('$');
                i++;
            }
            else if (next == '(')
            {
                var close = input.IndexOf(')', i + 2);
                if (close < 0)
                {
                    result.Append(input, i, input.Length - i);
                    break;
                }
                var name = input[(i + 2)..close];
                var value = name.Length > 0 ? lookup(name) : null;
                result.Append(value ?? $"$({name})");
                if (result.Length > MaxExpandedLength)
                {
                    throw new ContainerConfigException(
                        $"{what}: $({name}) expands it past {MaxExpandedLength} characters, longer than the kernel passes to a process (MAX_ARG_STRLEN); it is not expanded further.");
                }
                i = close;
            }
            else
            {
                result.Append(c);
            }
        }
        return result.ToString();
    }
}
