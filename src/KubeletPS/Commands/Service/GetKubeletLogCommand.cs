using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Systemd;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Get-KubeletLog: journal entries of the agent's unit (or other units) as typed records, from
/// journalctl -o json; -Follow streams new entries until Ctrl+C, like journalctl -fu kubeletps.
/// -JournalPath reads a journal file or directory copied from another node.
/// </summary>
[Cmdlet(VerbsCommon.Get, "KubeletLog")]
[OutputType(typeof(KubeletJournalEntry))]
public sealed class GetKubeletLogCommand : SystemdCmdlet
{
    private const string Prefix = nameof(ErrorIds.GetKubeletLog);

    /// <summary>The units whose entries to read (journalctl -u; globs allowed); by default the agent's, kubeletps.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ValidateNotNullOrEmpty]
    public string[] Unit { get; set; } = ["kubeletps"];

    /// <summary>Entries from this time on (local time unless the value says otherwise).</summary>
    [Parameter]
    public DateTime? Since { get; set; }

    /// <summary>Entries up to this time.</summary>
    [Parameter]
    public DateTime? Until { get; set; }

    /// <summary>Only the last N entries (journalctl -n).</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Tail { get; set; }

    /// <summary>Keep writing entries as they are logged, until Ctrl+C.</summary>
    [Parameter]
    public SwitchParameter Follow { get; set; }

    /// <summary>This priority and more severe (journalctl -p): emerg, alert, crit, err, warning, notice, info, debug, 0-7 or a range such as warning..err.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Priority { get; set; }

    /// <summary>Only entries whose message matches this pattern (journalctl -g, PCRE2; case-insensitive when all lower-case).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Grep { get; set; }

    /// <summary>A journal file (*.journal) or a directory of them to read instead of this machine's journal.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    protected override void ProcessRecord()
    {
        var query = new JournalQuery
        {
            Units = Unit,
            Since = AsPointInTime(Since),
            Until = AsPointInTime(Until),
            Tail = Tail,
            Follow = Follow,
            Priority = Priority,
            Grep = Grep,
            JournalPath = JournalPath is null ? null : ResolveLiteralPath(JournalPath),
        };
        try
        {
            WriteVerbose("journalctl " + string.Join(' ', query.Arguments()));
            RunOnPipeline(async ct =>
            {
                await foreach (var entry in JournalReader.ReadAsync(query, ct).ConfigureAwait(false))
                {
                    Post(() => WriteObject(new KubeletJournalEntry(entry)));
                }
            });
        }
        catch (OperationCanceledException) when (CancellationToken.IsCancellationRequested)
        {
            // Ctrl+C ends -Follow.
        }
        catch (KubeletException e)
        {
            ThrowTerminatingError(SystemdError(e, Prefix, query.JournalPath ?? "journalctl"));
        }
    }
}
