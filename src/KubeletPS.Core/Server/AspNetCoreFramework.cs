using System.Reflection;
using System.Runtime.Loader;

namespace KubeletPS.Core.Server;

/// <summary>
/// Whether Kestrel can load in this process. PowerShell runs on Microsoft.NETCore.App alone; the module's load context
/// takes ASP.NET Core from the shared framework beside the runtime and says where it looked through the AppContext
/// switch <see cref="SearchPathKey"/>. Nothing here touches an ASP.NET Core type, so it runs where the framework is absent.
/// </summary>
public static class AspNetCoreFramework
{
    /// <summary>Set by the module's load context: the folder it searched for Microsoft.AspNetCore.App.</summary>
    public const string SearchPathKey = "KubeletPS.AspNetCoreSearchPath";

    /// <summary>Null when Kestrel loads; else the warning to give, naming the folder and the package to install.</summary>
    public static string? Unavailable()
    {
        var context = AssemblyLoadContext.GetLoadContext(typeof(AspNetCoreFramework).Assembly) ?? AssemblyLoadContext.Default;
        try
        {
            context.LoadFromAssemblyName(new AssemblyName("Microsoft.AspNetCore.Server.Kestrel.Core"));
            return null;
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            var major = Environment.Version.Major;
            var searched = AppContext.GetData(SearchPathKey) as string;
            return $"the ASP.NET Core shared framework (Microsoft.AspNetCore.App {major}.x) is not installed{(searched is null ? "" : $" in {searched}")}: " +
                   $"the kubelet server (port 10250: logs, exec, healthz, metrics) does not run. Install the package aspnetcore-runtime-{major}.0 " +
                   $"(Debian/Ubuntu; dotnet-sdk-{major}.0 includes it, Fedora/RHEL: aspnetcore-runtime-{major}.0) and restart the agent.";
        }
    }
}
