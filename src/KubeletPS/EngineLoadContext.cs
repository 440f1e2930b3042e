using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace KubeletPS;

/// <summary>
/// Loads KubeletPS.Core and its dependencies (KubernetesClient, YamlDotNet, BouncyCastle,
/// gRPC) from the module's Dependencies/&lt;runtime&gt; folder into a load context of their own, so that
/// another module's copy of the same packages never clashes with ours. This follows
/// PowerShell's documented pattern for binary modules: the default context is asked only
/// for the engine assembly; everything the engine needs resolves inside this context.
/// </summary>
internal sealed class EngineLoadContext : AssemblyLoadContext
{
    internal const string EngineAssemblyName = "KubeletPS.Core";

    /// <summary>Points the ASP.NET Core lookup at another "shared" folder (tests: an empty one, to see the agent run without its server).</summary>
    internal const string SharedFrameworkVariable = "KUBELETPS_DOTNET_SHARED";

    /// <summary>KubeletPS.Core.Server.AspNetCoreFramework.SearchPathKey: where the engine reads the folder searched, for its warning.</summary>
    private const string AspNetCoreSearchPathKey = "KubeletPS.AspNetCoreSearchPath";

    private readonly string _dependencyDirectory;
    private readonly string? _aspNetCoreDirectory;

    private EngineLoadContext(string dependencyDirectory, string? aspNetCoreDirectory) : base("KubeletPS.Engine", isCollectible: false)
    {
        _dependencyDirectory = dependencyDirectory;
        _aspNetCoreDirectory = aspNetCoreDirectory;
    }

    internal static EngineLoadContext? Instance { get; private set; }

    /// <summary>
    /// Dependencies/net10.0 on .NET 10 and later (PowerShell 7.6+), Dependencies/net8.0 before
    /// (PowerShell 7.4 LTS). Each holds the engine precompiled (ReadyToRun) against that runtime;
    /// a runtime ignores precompiled code built for another major version and compiles the IL.
    /// </summary>
    internal static string DependencyDirectory => DependencyDirectoryFor(
        Path.Combine(Path.GetDirectoryName(typeof(EngineLoadContext).Assembly.Location)!, "Dependencies"), Environment.Version);

    internal static string DependencyDirectoryFor(string dependencies, Version runtime)
    {
        var net10 = Path.Combine(dependencies, "net10.0");
        return runtime.Major >= 10 && Directory.Exists(net10) ? net10 : Path.Combine(dependencies, "net8.0");
    }

    /// <summary>
    /// The "shared" folder of the running .NET (typeof(object) lives in shared/Microsoft.NETCore.App/VERSION), unless
    /// <see cref="SharedFrameworkVariable"/> names another.
    /// </summary>
    internal static string SharedFrameworkRoot =>
        Environment.GetEnvironmentVariable(SharedFrameworkVariable) is { Length: > 0 } overridden ? overridden
        : Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(typeof(object).Assembly.Location)))!;

    /// <summary>
    /// Kestrel for the kubelet server: PowerShell runs on Microsoft.NETCore.App alone, so ASP.NET Core comes from
    /// shared/Microsoft.AspNetCore.App beside it — the newest of the running runtime's major version, else the
    /// oldest newer one. Null when there is none (the agent then runs without its server and says why).
    /// </summary>
    internal static string? AspNetCoreDirectoryFor(string shared, Version runtime)
    {
        var root = Path.Combine(shared, "Microsoft.AspNetCore.App");
        if (!Directory.Exists(root)) return null;
        var versions = Directory.GetDirectories(root)
            .Select(d => (Path: d, Version: Version.TryParse(Path.GetFileName(d).Split('-')[0], out var v) ? v : null))
            .Where(d => d.Version is not null && File.Exists(Path.Combine(d.Path, "Microsoft.AspNetCore.Server.Kestrel.Core.dll")))
            .ToList();
        return versions.Where(d => d.Version!.Major == runtime.Major).OrderByDescending(d => d.Version).Select(d => d.Path).FirstOrDefault()
            ?? versions.Where(d => d.Version!.Major > runtime.Major).OrderBy(d => d.Version).Select(d => d.Path).FirstOrDefault();
    }

    internal static void Register()
    {
        // The context lives as long as the process (assemblies cannot be unloaded from it), but
        // the resolver must be hooked again on every import: Remove-Module unhooks it.
        if (Instance is null)
        {
            var shared = SharedFrameworkRoot;
            AppContext.SetData(AspNetCoreSearchPathKey, Path.Combine(shared, "Microsoft.AspNetCore.App"));
            Instance = new EngineLoadContext(DependencyDirectory, AspNetCoreDirectoryFor(shared, Environment.Version));
        }
        Default.Resolving -= ResolveEngine; // never twice
        Default.Resolving += ResolveEngine;
    }

    internal static void Unregister() => Default.Resolving -= ResolveEngine;

    private static Assembly? ResolveEngine(AssemblyLoadContext context, AssemblyName name) =>
        name.Name == EngineAssemblyName && Instance is not null ? Instance.LoadFromAssemblyName(name) : null;

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        var candidate = Path.Combine(_dependencyDirectory, assemblyName.Name + ".dll");
        if (File.Exists(candidate)) return LoadFromAssemblyPath(candidate);
        // ASP.NET Core (Microsoft.AspNetCore.*, the Microsoft.Extensions.* it brings) from its shared framework, which
        // holds none of Microsoft.NETCore.App's assemblies: those fall through to the default context.
        if (_aspNetCoreDirectory is not null)
        {
            var framework = Path.Combine(_aspNetCoreDirectory, assemblyName.Name + ".dll");
            if (File.Exists(framework)) return LoadFromAssemblyPath(framework);
        }
        return null;
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var candidate = Path.Combine(_dependencyDirectory, unmanagedDllName);
        return File.Exists(candidate) ? LoadUnmanagedDllFromPath(candidate) : IntPtr.Zero;
    }
}

/// <summary>Hooks the engine load context when the module is imported and unhooks it on removal.</summary>
public sealed class KubeletModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    public void OnImport() => EngineLoadContext.Register();

    public void OnRemove(PSModuleInfo psModuleInfo) => EngineLoadContext.Unregister();
}
