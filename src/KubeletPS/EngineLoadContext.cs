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

    private readonly string _dependencyDirectory;

    private EngineLoadContext(string dependencyDirectory) : base("KubeletPS.Engine", isCollectible: false)
    {
        _dependencyDirectory = dependencyDirectory;
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

    internal static void Register()
    {
        // The context lives as long as the process (assemblies cannot be unloaded from it), but
        // the resolver must be hooked again on every import: Remove-Module unhooks it.
        Instance ??= new EngineLoadContext(DependencyDirectory);
        Default.Resolving -= ResolveEngine; // never twice
        Default.Resolving += ResolveEngine;
    }

    internal static void Unregister() => Default.Resolving -= ResolveEngine;

    private static Assembly? ResolveEngine(AssemblyLoadContext context, AssemblyName name) =>
        name.Name == EngineAssemblyName && Instance is not null ? Instance.LoadFromAssemblyName(name) : null;

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        var candidate = Path.Combine(_dependencyDirectory, assemblyName.Name + ".dll");
        // Framework assemblies are not in Dependencies/ and fall through to the default context.
        return File.Exists(candidate) ? LoadFromAssemblyPath(candidate) : null;
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
