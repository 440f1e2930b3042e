using System.Diagnostics;

namespace KubeletPS.Core.Tests.Support;

/// <summary>
/// kubectl (1.32) as an administrator runs it against a test cluster: one kubeconfig, and a private HOME and discovery
/// cache so that discovery from another test's server is never reused.
/// </summary>
internal sealed class TestKubectl(string kubeconfig, string home)
{
    public string KubeconfigPath => kubeconfig;

    /// <summary>The process to start for <c>kubectl --kubeconfig KUBECONFIG ARGS</c>, its output (and with <paramref name="input"/> its input) redirected.</summary>
    public ProcessStartInfo StartInfo(IEnumerable<string> args, bool input = false)
    {
        var psi = new ProcessStartInfo("kubectl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input,
            Environment = { ["KUBECACHEDIR"] = Path.Combine(home, "cache"), ["HOME"] = home },
        };
        psi.ArgumentList.Add("--kubeconfig");
        psi.ArgumentList.Add(kubeconfig);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>Runs kubectl to its end (killed after <paramref name="timeoutSeconds"/>), <paramref name="stdin"/> as its input when given.</summary>
    public async Task<KubectlResult> RunAsync(string[] args, string? stdin = null, int timeoutSeconds = 60)
    {
        using var process = Process.Start(StartInfo(args, stdin is not null))!;
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(timeoutSeconds));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return new KubectlResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>kubectl's standard output; the test fails with its error output when it does not exit 0.</summary>
    public async Task<string> OutputAsync(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.True(result.ExitCode == 0, $"kubectl {string.Join(' ', args)} exited {result.ExitCode}: {result.Stderr}");
        return result.Stdout;
    }
}

/// <summary>How a kubectl run ended.</summary>
internal sealed record KubectlResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;

    public override string ToString() => $"exit {ExitCode}; stdout: {Stdout}; stderr: {Stderr}";
}
