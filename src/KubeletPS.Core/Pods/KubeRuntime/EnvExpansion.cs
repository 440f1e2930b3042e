using System.Text;

namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>
/// Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion): $(NAME) becomes the value
/// when NAME is defined and stays as written otherwise; $$ escapes a dollar.
/// </summary>
public static class EnvExpansion
{
    public static string Expand(string input, Func<string, string?> lookup)
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
