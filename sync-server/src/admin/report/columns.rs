//! The report's columns: their names in order ([`COLUMNS`]) and what each one counts, with
//! the sections that follow the rows ([`HELP`], the text of `admin report --help`).

/// The `--help` text of `admin report`.
pub const HELP: &str = "\
Write the compliance report (R1–R10), one row per account manager, as CSV.

Figures are computed by core's rule queries (the code the phones run) on the server's admin
device after it pulled the district's documents; the server also tells them every user's
role, so a walk or spot check counts only from its kind's role. `--day` is the day weekly and daily rules
are judged on (default: today if it is in `--month`, else the month's last day); clocks and
deadlines are judged as of the end of `--day`, or now if that is earlier. Visits count by
their kind, which the server takes only from the role that records it: walks from the market
team, spot checks from supervisors. Columns:

  manager                     account manager (user id = territory)
  name                        the account manager's name
  month                       the month reported, YYYY-MM
  stores                      stores in the territory
  r1_due_this_week            R1: stores not visited by the manager in the ISO week of --day
                              (small grocery Z3 stores are exempt)
  r1_weeks_judged             R1 over the month: its ISO weeks (those whose Thursday falls in
                              the month) that have ended when the report is made (a past
                              month's last week may end in the next month)
  r1_store_weeks_missed       R1 over the month: in those weeks, the stores not visited by
                              a manager holding the store then, summed over the weeks; a
                              store counts in a week if it was the manager's at the week's
                              middle, Thursday noon (one moved away still counts for the
                              weeks it was theirs)
  r2_price_tag_violations     R2: stores whose shelf display lacked more than 3 price tags at
                              the end of --day (a past month: its last day), as it was then
  r3_count_findings           R3: stores whose latest count finished in the month is off by
                              more than 10%, or has no rate: book total 0 (undefined, its
                              difference still counted) or finished with nothing counted;
                              counted where the store was the manager's and a functional
                              terminal when the count finished (a line left uncounted in a
                              finished count counts as found empty)
  r4_total                    R4: the month's scorecard total (empty: none, or not fully scored)
  r4_passes                   R4: yes if the total reaches the pass mark, no means assessment
  r4_bonus                    R4: yes if the total reaches the bonus mark (benchmark bonus)
  r4_scorecards               R4: scorecards of the manager for the month (more than 1: two
                              supervisors scored the month; r4_total is the first by id)
  r4_stores_spot_checked      R4: stores the supervision team spot-checked in the month
                              while they were the manager's (0 breaks R4's monthly spot
                              check)
  r5_demo_street_unchecked    R5: demo-street stores the manager held at the end of --day
                              and did not check on --day
  r5_demo_street_unwalked     R5: demo-street stores the market team has not walked in the
                              ISO week of --day
  r5_store_weeks_unwalked     R5 over the month: in the weeks r1_weeks_judged counts, the
                              demo-street stores the market team did not walk, summed over
                              the weeks (a store counts as in r1_store_weeks_missed)
  r5_demo_street_stores       R5: demo-street stores the territory held in the month
  r5_demo_street_sampled      R5: of those, stores the supervision team spot-checked in the
                              month (0 of more than 0 breaks R5's monthly sample)
  r6_demo_street_failing      R6: demo-street stores whose display fails a standard now
  r7_follow_ups               R7: stores that were the manager's, functional and rated at the
                              end of --day, with that rating (one follow-up each per period)
  r7_not_done                 R7: follow-ups the records show not done in their period
                              (month, ISO week or quarter holding --day); study visits to
                              another store leave no record and are not counted here
  r8_training_days            R8: days with a training-day visit by the manager in the
                              month, all four activities recorded, in a store that was hers
                              and a functional terminal that day (two on one day are one
                              day; 1 is required)
  r9_visits_made              R9: visits by the manager in the month to stores R1 covers,
                              at most one a day per store (two check-ins on one day are one)
  r9_visits_required          R9: --min-visits times the stores the territory held, and R1
                              covered, at the month's middle
  r9_stores_below_minimum     R9: stores R1 covers visited fewer than --min-visits times
  r9_clocks_breached          R9: service clocks breached whose deadline fell in the month, by
                              the end of --day, whenever the complaint came, about stores
                              the manager held when the deadline fell (a refund's 3 working days are counted on the district's
                              calendar of holidays and make-up days: `admin calendar`)
  r9_clocks_running           R9: clocks still running, of complaints open at the end of --day
                              about stores the manager held then
  r10_requests_received       R10: retailers' requests received in the month, up to --day
  r10_requests_unanswered     R10: requests received by the end of --day (in any month) still
                              waiting for a reply, a visit or a satisfaction callback
  tasks_open                  rectification tasks assigned to the manager, not verified
  tasks_overdue               of those, past their deadline

Documents that cannot be read (stored by an older server that did not read whole documents)
are left out of the figures and named after the rows: an empty line, then the columns
damaged_document, kind, store, territory, reason, and a row per document.

Photos used as evidence more than once (the same photo in visits of different stores or on
different days: an old photo passed off as new), when one of the uses falls in the month,
follow: an empty line, then the columns reused_photo, visit, store, day (the day the photo
was taken, else added, the district's local date), and a row per use, every use of such a photo listed.";

/// The header of the report, in order.
pub const COLUMNS: [&str; 32] = [
    "manager",
    "name",
    "month",
    "stores",
    "r1_due_this_week",
    "r1_weeks_judged",
    "r1_store_weeks_missed",
    "r2_price_tag_violations",
    "r3_count_findings",
    "r4_total",
    "r4_passes",
    "r4_bonus",
    "r4_scorecards",
    "r4_stores_spot_checked",
    "r5_demo_street_unchecked",
    "r5_demo_street_unwalked",
    "r5_store_weeks_unwalked",
    "r5_demo_street_stores",
    "r5_demo_street_sampled",
    "r6_demo_street_failing",
    "r7_follow_ups",
    "r7_not_done",
    "r8_training_days",
    "r9_visits_made",
    "r9_visits_required",
    "r9_stores_below_minimum",
    "r9_clocks_breached",
    "r9_clocks_running",
    "r10_requests_received",
    "r10_requests_unanswered",
    "tasks_open",
    "tasks_overdue",
];
