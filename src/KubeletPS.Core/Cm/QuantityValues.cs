using k8s.Models;

namespace KubeletPS.Core.Cm;

/// <summary>
/// Resource quantities as numbers the kubelet can compute with, whatever a pod's author wrote. The API server
/// accepts quantities far beyond int64 (<c>1e1000</c> is kept as written; only binary-suffixed ones such as
/// <c>99999999999999999999Ei</c> are capped, at 2^63-1), and the API documents that no quantity represents a
/// number greater than 2^63-1 in magnitude. KubernetesClient's <c>ToDecimal</c> throws <see cref="OverflowException"/>
/// past decimal's range, and a decimal past long's range throws when cast; here every value is capped at ±(2^63-1)
/// first, and sums stop at the cap instead of wrapping.
/// </summary>
public static class QuantityValues
{
    private const decimal Cap = long.MaxValue;

    /// <summary>The quantity's value, capped at ±(2^63-1).</summary>
    public static decimal Decimal(ResourceQuantity quantity)
    {
        ArgumentNullException.ThrowIfNull(quantity);
        try
        {
            return Math.Clamp(quantity.ToDecimal(), -Cap, Cap);
        }
        catch (OverflowException)
        {
            return quantity.ToDouble() < 0 ? -Cap : Cap;
        }
    }

    /// <summary>Quantity.Value: whole units, rounded up, capped.</summary>
    public static long Value(ResourceQuantity quantity) => ToInt64(Math.Ceiling(Decimal(quantity)));

    /// <summary>Quantity.MilliValue: thousandths, rounded up, capped.</summary>
    public static long MilliValue(ResourceQuantity quantity) => ToInt64(Math.Ceiling(Decimal(quantity) * 1000m));

    /// <summary>
    /// Replaces each resource quantity of <paramref name="pod"/> beyond ±(2^63-1) by the cap: KubernetesClient's
    /// ToString (and so its serialization) of a quantity such as <c>-1e1000</c> did not return, which held the
    /// static pod folder's read for good.
    /// </summary>
    public static void CapPodQuantities(V1Pod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        foreach (var container in (pod.Spec?.Containers ?? []).Concat(pod.Spec?.InitContainers ?? []))
        {
            CapEach(container.Resources?.Limits);
            CapEach(container.Resources?.Requests);
        }
        CapEach(pod.Spec?.Overhead);
    }

    private static void CapEach(IDictionary<string, ResourceQuantity>? quantities)
    {
        if (quantities is null) return;
        foreach (var (name, quantity) in quantities.ToList())
        {
            if (Math.Abs(quantity.ToDouble()) > long.MaxValue)
                quantities[name] = new ResourceQuantity(Decimal(quantity).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>A decimal as a long, capped at long's range instead of throwing.</summary>
    public static long ToInt64(decimal value) => value >= Cap ? long.MaxValue : value <= -Cap ? -long.MaxValue : (long)value;

    /// <summary>A sum that stops at long's range instead of wrapping to a negative number.</summary>
    public static long Add(long a, long b)
    {
        var sum = unchecked(a + b);
        return ((a ^ sum) & (b ^ sum)) < 0 ? (a < 0 ? long.MinValue : long.MaxValue) : sum;
    }
}
