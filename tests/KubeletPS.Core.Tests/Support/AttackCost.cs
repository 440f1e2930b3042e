using System.Diagnostics;
using Xunit.Abstractions;

namespace KubeletPS.Core.Tests.Support;

/// <summary>An attack that must be refused, and what refusing it may cost in managed allocations (the unbounded readers went past gigabytes).</summary>
internal static class AttackCost
{
    public static T Refused<T>(Action attack, long allocationBound, ITestOutputHelper output, out long allocated) where T : Exception
    {
        var watch = Stopwatch.StartNew();
        var before = GC.GetTotalAllocatedBytes(true);
        T? caught = null;
        try
        {
            attack();
        }
        catch (T e)
        {
            caught = e;
        }
        allocated = GC.GetTotalAllocatedBytes(true) - before;
        output.WriteLine($"refused after allocating {allocated / 1024} KiB in {watch.Elapsed.TotalMilliseconds:0} ms: {caught?.Message[..Math.Min(caught.Message.Length, 200)]}");
        Assert.True(allocated < allocationBound, $"the attack allocated {allocated / (1024 * 1024)} MiB");
        return caught ?? throw new Xunit.Sdk.XunitException("the attack was accepted");
    }
}
