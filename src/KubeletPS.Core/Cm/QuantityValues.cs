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
    /// Replaces each resource quantity of <paramref name="pod"/> that KubernetesClient cannot print: one beyond
    /// ±(2^63-1) by the cap, and a negative one written with an exponent by the same number in SI form (see
    /// <see cref="Capped"/>). Its ToString, and so its serialization, of such a quantity did not return, which held the
    /// static pod folder's read for good. Every quantity the pod's object holds, found by walking it: its containers'
    /// resources, the pod's resources and overhead, emptyDir sizeLimits, downward API divisors, ephemeral volume
    /// claims, and those of a status block a manifest may carry.
    /// </summary>
    public static void CapPodQuantities(V1Pod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        CapAll(pod);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, System.Reflection.PropertyInfo[]> QuantityPaths = new();

    private static void CapAll(object model)
    {
        foreach (var property in QuantityPaths.GetOrAdd(model.GetType(), PropertiesToWalk))
        {
            switch (property.GetValue(model))
            {
                case null:
                    break;
                case ResourceQuantity quantity:
                    property.SetValue(model, Capped(quantity));
                    break;
                case IDictionary<string, ResourceQuantity> quantities:
                    CapEach(quantities);
                    break;
                case System.Collections.IEnumerable items:
                    foreach (var item in items)
                    {
                        if (item is not null) CapAll(item);
                    }
                    break;
                case var nested:
                    CapAll(nested);
                    break;
            }
        }
    }

    /// <summary>A model's properties that hold quantities or other models: a quantity, a map of them, a model, a list of models.</summary>
    private static System.Reflection.PropertyInfo[] PropertiesToWalk(Type type) =>
        type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.CanRead && Api.QuantityExponents.Walked(p.PropertyType) && (p.PropertyType != typeof(ResourceQuantity) || p.CanWrite))
            .ToArray();


    private static void CapEach(IDictionary<string, ResourceQuantity>? quantities)
    {
        if (quantities is null) return;
        foreach (var (name, quantity) in quantities.ToList())
        {
            if (quantity is not null) quantities[name] = Capped(quantity);
        }
    }

    private static ResourceQuantity Capped(ResourceQuantity quantity)
    {
        var value = quantity.ToDouble();
        if (Math.Abs(value) > long.MaxValue) return new ResourceQuantity(Decimal(quantity).ToString(System.Globalization.CultureInfo.InvariantCulture));
        // KubernetesClient's ToString of a negative quantity written with an exponent (-1e3, -5e-1) does not return
        // either: kept as the same number in SI form, whose ToString returns. One too small for a decimal (-1e-1000)
        // is -1n, as the API server rounds it.
        if (quantity.Format == ResourceQuantity.SuffixFormat.DecimalExponent && double.IsNegative(value))
        {
            var exact = Decimal(quantity);
            return new ResourceQuantity(exact == 0 ? -0.000000001m : exact, 0, ResourceQuantity.SuffixFormat.DecimalSI);
        }
        return quantity;
    }

    /// <summary>
    /// The quantity as the API server prints it (<c>-64Mi</c>, <c>-1e3</c>): KubernetesClient's ToString prints a
    /// negative quantity wrongly (<c>-0.0000000000000008881784197001Ei</c> for <c>-1Ki</c>), so a negative one is
    /// printed as its magnitude with a sign. (After <see cref="CapPodQuantities"/>, a negative one written with an
    /// exponent is shown with an SI suffix: <c>-1k</c> for <c>-1e3</c>.)
    /// </summary>
    public static string Display(ResourceQuantity quantity)
    {
        ArgumentNullException.ThrowIfNull(quantity);
        var value = Decimal(quantity);
        if (value >= 0) return quantity.ToString();
        return "-" + new ResourceQuantity(-value, 0, quantity.Format).ToString();
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
