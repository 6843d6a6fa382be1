package main

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

func (s *server) groupsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	groups, err := s.m.ListGroups(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "groups", &view{Title: "Groups", Data: groups})
}

// permChoice is one checkbox of the permission picker.
type permChoice struct {
	Value   string
	Label   string
	Checked bool
}

type permCategory struct {
	Name    string
	Choices []permChoice
}

// picker builds the permission checkboxes from the Manager's catalog,
// grouped by Category and labelled, with the wildcards a group may hold
// ("*" and "resource:*") and anything held that the catalog does not list.
// A permission the group lacks is offered only where offer says the actor
// may grant it: usher refuses granting what one does not hold.
func (s *server) picker(held []group.Permission, offer func(group.Permission) bool) []permCategory {
	has := func(p group.Permission) bool { return slices.Contains(held, p) }
	shown := map[group.Permission]bool{group.All: true}
	cats := []permCategory{{Name: "Everything", Choices: []permChoice{
		{Value: string(group.All), Label: "All permissions, including future ones", Checked: has(group.All)},
	}}}
	index := map[string]int{}
	wildcards := map[int][]permChoice{} // category → its resources' wildcards, listed last
	for _, e := range s.m.Permissions() {
		i, ok := index[e.Category]
		if !ok {
			i = len(cats)
			index[e.Category] = i
			cats = append(cats, permCategory{Name: e.Category})
		}
		cats[i].Choices = append(cats[i].Choices, permChoice{Value: string(e.Permission), Label: e.Label, Checked: has(e.Permission)})
		shown[e.Permission] = true
		res := e.Permission.Resource()
		if wild := group.Permission(res + ":*"); !shown[wild] {
			shown[wild] = true
			wildcards[i] = append(wildcards[i], permChoice{Value: string(wild), Label: "Every " + res + " permission", Checked: has(wild)})
		}
	}
	for i, w := range wildcards {
		cats[i].Choices = append(cats[i].Choices, w...)
	}
	var other []permChoice
	for _, p := range held {
		if !shown[p] {
			other = append(other, permChoice{Value: string(p), Label: string(p), Checked: true})
		}
	}
	if other != nil {
		cats = append(cats, permCategory{Name: "Other", Choices: other})
	}
	return offered(cats, offer)
}

// offered keeps the checked choices and those offer allows, and the
// categories left with any.
func offered(cats []permCategory, offer func(group.Permission) bool) []permCategory {
	var out []permCategory
	for _, c := range cats {
		c.Choices = slices.DeleteFunc(c.Choices, func(pc permChoice) bool {
			return !pc.Checked && !offer(group.Permission(pc.Value))
		})
		if len(c.Choices) > 0 {
			out = append(out, c)
		}
	}
	return out
}

type groupFormData struct {
	ID               string // empty for a new group
	Admin            bool   // the admin group, which keeps "*"
	Builtin          bool   // a built-in group, which cannot be deleted
	Name             string
	Description      string
	RequireTwoFactor bool
	// Version is the group's as read: saving an older one is refused
	// (usher's ErrStale) instead of undoing someone else's change.
	Version    int64
	Categories []permCategory
	// Editable: the actor may save this group (groups:write and every
	// permission it grants); otherwise the page shows it read-only.
	Editable bool
	// Limits for the inputs' maxlength, from usher: a browser counts
	// characters, not bytes, so usher still has the last word.
	MaxName, MaxDescription int
}

// groupForm is the group's page for p: a form offering the permissions p
// may grant, or, when p may not save the group, the group read-only.
func (s *server) groupForm(g *group.Group, p *auth.Principal) *groupFormData {
	mine := group.NewSet(p.Permissions())
	holds := func(perms ...group.Permission) bool { _, ok := mine.Covers(perms); return ok }
	editable := p.Can(group.GroupsWrite) && holds(g.Permissions...)
	offer := func(perm group.Permission) bool { return editable && holds(perm) }
	return &groupFormData{
		ID: string(g.ID), Admin: g.ID == group.AdminID, Builtin: g.Builtin(), Name: g.Name, Description: g.Description,
		RequireTwoFactor: g.RequireTwoFactor, Version: g.Version, Categories: s.picker(g.Permissions, offer),
		MaxName: group.MaxNameLength, MaxDescription: group.MaxDescriptionLength, Editable: editable,
	}
}

// groupFromForm reads the editable fields of a group from the form.
func groupFromForm(r *http.Request) group.Group {
	var perms []group.Permission
	for _, v := range r.PostForm["perm"] {
		perms = append(perms, group.Permission(v))
	}
	return group.Group{
		Name: r.PostFormValue("name"), Description: r.PostFormValue("description"),
		Permissions: perms, RequireTwoFactor: r.PostFormValue("require_2fa") == "on",
	}
}

func (s *server) newGroupPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.render(w, r, http.StatusOK, "group_form", &view{Title: "New group", Data: s.groupForm(&group.Group{}, p)})
}

func (s *server) createGroup(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	g := groupFromForm(r)
	if _, err := s.m.CreateGroup(r.Context(), p, g); err != nil {
		s.formFailed(w, r, err, "group_form", nil, func() (*view, error) {
			return &view{Title: "New group", Data: s.groupForm(&g, p)}, nil
		})
		return
	}
	redirect(w, r, "/groups?done=group-created")
}

func (s *server) editGroupPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	g, err := s.m.GetGroup(r.Context(), p, group.ID(r.PathValue("id")))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "group_form", &view{Title: "Edit group", Data: s.groupForm(g, p)})
}

func (s *server) updateGroup(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	g := groupFromForm(r)
	g.ID = group.ID(r.PathValue("id"))
	g.Version, _ = strconv.ParseInt(r.PostFormValue("version"), 10, 64) // none or garbage: 0, which is stale
	if _, err := s.m.UpdateGroup(r.Context(), p, g); err != nil {
		s.formFailed(w, r, err, "group_form", nil, func() (*view, error) {
			if errors.Is(err, auth.ErrStale) {
				// Show the group as it is now, not the older form.
				now, err := s.m.GetGroup(r.Context(), p, g.ID)
				if err != nil {
					return nil, err
				}
				return &view{Title: "Edit group", Data: s.groupForm(now, p)}, nil
			}
			return &view{Title: "Edit group", Data: s.groupForm(&g, p)}, nil
		})
		return
	}
	redirect(w, r, "/groups/"+url.PathEscape(string(g.ID))+"?done=group-saved")
}

func (s *server) deleteGroupConfirm(g *group.Group) *confirmData {
	id := url.PathEscape(string(g.ID))
	return &confirmData{
		Question: "Delete the group " + g.Name + "?",
		Warning:  "Only a group without members can be deleted. This cannot be undone.",
		Action:   "/groups/" + id + "/delete", Button: "Delete group", Cancel: "/groups/" + id,
	}
}

func (s *server) deleteGroupPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	g, err := s.m.GetGroup(r.Context(), p, group.ID(r.PathValue("id")))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "confirm", &view{Title: "Delete group", Data: s.deleteGroupConfirm(g)})
}

func (s *server) deleteGroup(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := group.ID(r.PathValue("id"))
	if err := s.m.DeleteGroup(r.Context(), p, id); err != nil {
		s.formFailed(w, r, err, "confirm", nil, func() (*view, error) {
			g, err := s.m.GetGroup(r.Context(), p, id)
			if err != nil {
				return nil, err
			}
			return &view{Title: "Delete group", Data: s.deleteGroupConfirm(g)}, nil
		})
		return
	}
	redirect(w, r, "/groups?done=group-deleted")
}
